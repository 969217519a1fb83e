#!/usr/bin/env python3
"""Builds the GeoIP/ASN test fixtures from python3-pyasn's bundled (old) RouteViews data.

Inputs (Debian package python3-pyasn 1.6.1, main):
  /usr/lib/python3/dist-packages/data/ipasn_20140513.dat.gz   IPv4 prefix -> AS (RouteViews RIB 2014-05-13)
  /usr/lib/python3/dist-packages/data/ipasn6_20151101.dat.gz  IPv4+IPv6 prefix -> AS (2015-11-01)
  /usr/lib/python3/dist-packages/data/asnames.json            AS -> name
Outputs:
  GeoIPASNum-test.csv  (MaxMind GeoIPASNum2 CSV: first_int,last_int,"ASn name"), then
  GeoIPASNum-test.dat  via /usr/lib/geoip/geoip-generator-asn (geoip-bin)
  ip2asn-test.tsv      (ip2asn layout: range_start range_end AS_number country_code AS_description, tab-separated)
"""
import gzip, ipaddress, json, subprocess

DATA = "/usr/lib/python3/dist-packages/data/"
KEEP = {9198, 15169, 13238, 13335}   # Kazakhtelecom, Google, Yandex, Cloudflare
names = json.load(open(DATA + "asnames.json"))

def rows(path):
    for line in gzip.open(path, "rt"):
        if line.startswith(";"):
            continue
        pfx, asn = line.split("\t")[:2]
        try:
            asn = int(asn.split(",")[0].strip("{}"))
        except ValueError:
            continue
        if asn in KEEP:
            yield ipaddress.ip_network(pfx, strict=False), asn

v4 = sorted(set(rows(DATA + "ipasn_20140513.dat.gz")), key=lambda r: (r[0].prefixlen, r[0]))
with open("GeoIPASNum-test.csv", "w") as o:
    for net, asn in v4:   # less specific first: later rows win in the generator
        o.write(f'{int(net.network_address)},{int(net.broadcast_address)},"AS{asn} {names.get(str(asn), "")}"\n')
subprocess.run(["/usr/lib/geoip/geoip-generator-asn", "-i",
                "kzforensics test fixture: python3-pyasn RouteViews 2014-05-13, AS 9198 15169 13238 13335",
                "-o", "GeoIPASNum-test.dat", "GeoIPASNum-test.csv"], check=True)

# ip2asn TSV: a few hand-picked rows, IPv4 and IPv6, plus one deliberately nested row (most specific must win).
v6 = sorted({r for r in rows(DATA + "ipasn6_20151101.dat.gz") if r[0].version == 6 and r[1] == 9198},
            key=lambda r: r[0])[:3]
def cc(asn):
    n = names.get(str(asn), "")
    return n.rsplit(", ", 1)[-1] if ", " in n else "None"
def desc(asn):
    n = names.get(str(asn), "")
    return n.rsplit(", ", 1)[0] if ", " in n else n
picked = [r for r in v4 if r[1] == 9198][:6] + [r for r in v4 if r[1] != 9198 and r[0].prefixlen == 24][:4] + v6
lines = []
for net, asn in picked:
    lines.append((net.version, int(net.network_address), f"{net.network_address}\t{net.broadcast_address}\t{asn}\t{cc(asn)}\t{desc(asn)}"))
lines.append((4, int(ipaddress.ip_address("95.56.0.0")), "95.56.0.0\t95.59.255.255\t9198\tKZ\tKAZTELECOM-AS JSC Kazakhtelecom"))
lines.append((4, int(ipaddress.ip_address("95.56.7.0")), "95.56.7.0\t95.56.7.255\t64512\tZZ\tNESTED-TEST more specific than 95.56.0.0/14"))
lines.append((4, int(ipaddress.ip_address("192.0.2.0")), "192.0.2.0\t192.0.2.255\t0\tNone\tNot routed"))
with open("ip2asn-test.tsv", "w") as o:
    for _, _, l in sorted(set(lines)):
        o.write(l + "\n")

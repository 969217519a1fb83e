#!/usr/bin/python3
"""Show that verify.py catches a broken lab run: copy a run (default: the committed fixtures), break it in known
ways, and require verify.py to fail on every broken scenario and pass on the untouched copy.

usage: selftest_verify.py [RUN_DIR]        exit 0 when every mutation was caught
"""
import json, os, shutil, sys, tempfile
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import verify  # noqa: E402


def edit(sd, fn):
    p = os.path.join(sd, "truth.json")
    t = json.load(open(p))
    fn(t)
    json.dump(t, open(p, "w"))


def rewrite(sd, fn, name="client.pcap"):
    """Rewrite a capture: fn(list of scapy packets) returns the packets to keep (possibly changed)."""
    from scapy.all import rdpcap, wrpcap
    p = os.path.join(sd, name)
    wrpcap(p, fn(list(rdpcap(p))))


def without_repeats(pkts):
    from scapy.all import TCP
    seen, out = set(), []
    for p in pkts:
        if TCP in p and len(p[TCP].payload):
            k = (p[TCP].sport, p[TCP].dport, p[TCP].seq, len(p[TCP].payload))
            if k in seen:
                continue
            seen.add(k)
        out.append(p)
    return out


def nat_rst_with_server_ttl(pkts):
    from scapy.all import IP, TCP
    for p in pkts:
        if TCP in p and p[TCP].flags.R and p[IP].ttl == 63:
            p[IP].ttl = 59
            del p[IP].chksum
    return pkts


def swap(sd, other, name="client.pcap"):
    shutil.copy(os.path.join(other, name), os.path.join(sd, name))


MUTATIONS = [
    ("http_rst_onpath", "wrong injected frame", lambda d, r: edit(d, lambda t: t["interfered"][0].update(
        injected_frames=[t["interfered"][0]["injected_frames"][0] - 1]))),
    ("http_rst_inpath", "censor never fired (capture from the baseline)", lambda d, r: swap(d, os.path.join(r, "baseline"))),
    ("dns_injection", "capture of another scenario", lambda d, r: swap(d, os.path.join(r, "http_rst_onpath"))),
    ("sweep_http_inpath", "censor hop off by one", lambda d, r: edit(d, lambda t: t["censor"].update(hop=2, router="10.77.1.1"))),
    ("sweep_sni_onpath", "first trigger TTL off by one", lambda d, r: edit(d, lambda t: (t["censor"].update(first_trigger_ttl=5),
                                                                                          t["sweep"].update(first_trigger_ttl=5)))),
    ("icmp_prohibited", "wrong inject TTL", lambda d, r: edit(d, lambda t: t["censor"].update(inject_ttl=128))),
    ("sni_drop", "control dropped from clean", lambda d, r: edit(d, lambda t: t.update(clean=[]))),
    ("tls_interception", "interception missing", lambda d, r: edit(d, lambda t: t.update(interfered=[]))),
    ("throttling", "control capture instead of the throttled one", lambda d, r: swap(d, os.path.join(r, "baseline"))),
    ("http_blockpage", "FIN entry removed", lambda d, r: edit(d, lambda t: t.update(
        interfered=[e for e in t["interfered"] if e["detector"] != "tcp.fin_injection"]))),
    ("sweep_sni_drop", "drop recorded as triggering at the censor hop", lambda d, r: edit(d, lambda t: (
        t["censor"].update(first_trigger_ttl=3), t["sweep"].update(first_trigger_ttl=3)))),
    ("sweep_http_nfqueue", "nfqueue censor recorded one hop late", lambda d, r: edit(d, lambda t: (
        t["censor"].update(hop=4, router="10.77.3.1"), t["sweep"].update(censor_hop=4, router="10.77.3.1")))),
    ("http_rst_inpath_v6", "IPv6 censor given its IPv4 router address", lambda d, r: edit(d, lambda t: t["censor"].update(
        router="10.77.2.1"))),
    ("ip_blackhole", "server capture shows the SYNs arriving", lambda d, r: swap(d, os.path.join(r, "baseline"), "server.pcap")),
    ("two_vantages", "second vantage crosses the censor", lambda d, r: swap(d, os.path.join(r, "two_vantages"), "client.pcap")
     or shutil.copy(os.path.join(r, "two_vantages", "client.pcap"), os.path.join(d, "client2.pcap"))),
    # negative controls
    ("control_nat_rst", "NAT RST not recorded as a middlebox frame", lambda d, r: edit(d, lambda t: t.update(
        middlebox_frames=[]))),
    ("control_nat_rst", "a censor's injected RST instead of the NAT's", lambda d, r: (
        swap(d, os.path.join(r, "http_rst_inpath")), swap(d, os.path.join(r, "http_rst_inpath"), "server.pcap"))),
    ("control_nat_rst", "the NAT's RST given the server's TTL", lambda d, r: rewrite(d, nat_rst_with_server_ttl)),
    ("control_retransmissions_tls13", "retransmissions and duplicates removed", lambda d, r: rewrite(d, without_repeats)),
    ("control_server_rst", "capture without the server's resets (baseline)", lambda d, r: (
        swap(d, os.path.join(r, "baseline")), swap(d, os.path.join(r, "baseline"), "server.pcap"))),
    ("control_cdn_rotation", "a DNS control without rotation (baseline)", lambda d, r: (
        swap(d, os.path.join(r, "baseline")), swap(d, os.path.join(r, "baseline"), "server.pcap"))),
    ("control_retransmissions_tls13", "a lossless path (throttling capture)", lambda d, r: (
        swap(d, os.path.join(r, "throttling")), swap(d, os.path.join(r, "throttling"), "server.pcap"))),
    ("control_retransmissions_tls13", "a censor listed in a control", lambda d, r: edit(d, lambda t: t.update(
        censor={"hop": 3, "router": "10.77.2.1", "style": "in-path", "mechanism": "iptables-drop",
                "first_trigger_ttl": 4}))),
]


def main():
    run = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "captures", "lab")
    tmp = tempfile.mkdtemp(prefix="kzlab-selftest-")
    try:
        clean = os.path.join(tmp, "clean")
        shutil.copytree(run, clean)
        bad = 0
        for d in sorted(os.listdir(clean)):
            sd = os.path.join(clean, d)
            if os.path.exists(os.path.join(sd, "truth.json")):
                c, _ = verify.verify_scenario(sd)
                if c.errors:
                    print(f"UNEXPECTED FAIL on the untouched copy: {d}: {c.errors[:3]}")
                    bad += 1
        for n, (scen, what, fn) in enumerate(MUTATIONS):
            broken = os.path.join(tmp, f"broken-{n}-{scen}")
            shutil.copytree(os.path.join(run, scen), broken)
            fn(broken, run)
            c, _ = verify.verify_scenario(broken)
            if c.errors:
                print(f"caught  {scen:18s} {what}: {c.errors[0][:90]}")
            else:
                print(f"MISSED  {scen:18s} {what}")
                bad += 1
        print(f"selftest: {len(MUTATIONS)} mutations, {bad} problems")
        return 1 if bad else 0
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    sys.exit(main())

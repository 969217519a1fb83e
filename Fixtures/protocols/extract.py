#!/usr/bin/env python3
"""Regenerates the KZProtocolsTests fixtures from ../shared/corpus with tshark (Debian tshark 4.0) and openssl.

For each selected capture it writes:
  <name>.segments   one line per TCP segment / UDP datagram with payload, in frame order:
                    "<frame> <c|s> <hex payload>"   (c = originator -> responder, s = the reverse)
  <name>.tshark     what tshark (and openssl for certificate names) say about the same packets, one fact a line:
                    "<kind>\t<frame>\t<value>"  (see the tests for the kinds)
Run from this directory: ./extract.py  (needs tshark, openssl, the corpus at ../../../shared/corpus or $KZ_CORPUS).
"""
import hashlib, os, subprocess, sys

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.environ.get("KZ_CORPUS", os.path.normpath(os.path.join(HERE, "../../../../shared/corpus")))

def tshark(path, filt, fields, extra=()):
    cmd = ["tshark", "-r", path, "-Y", filt, "-T", "fields", "-E", "separator=\t", "-E", "occurrence=a",
           "-E", "aggregator=|"] + list(extra)
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True).stdout
    return [l.split("\t") for l in out.splitlines() if l]

def segments(path, stream_filter, udp=False, server_port=None):
    """(frame, dir, hex) for payload-carrying packets; dir 's' for packets from `server_port` when given,
    else 'c' for the side that sent first (SYN for TCP)."""
    if udp:
        rows = tshark(path, stream_filter, ["frame.number", "ip.src", "ipv6.src", "udp.srcport", "udp.payload"])
    else:
        raw = tshark(path, stream_filter + " && tcp.len>0",
                     ["frame.number", "ip.src", "ipv6.src", "tcp.srcport", "tcp.payload", "tcp.seq"])
        # Keep each stream byte once (first copy wins, overlaps trimmed): a simple in-order reassembly.
        covered, rows = {}, []
        for frame, s4, s6, port, payload, seq in raw:
            key = (s4 or s6, port)
            data = payload.replace(":", "")
            seq, end = int(seq), int(seq) + len(data) // 2
            done = covered.get(key, 0)
            if end <= done:
                continue
            if seq < done:
                data = data[(done - seq) * 2:]
            covered[key] = end
            rows.append([frame, s4, s6, port, data])
        syn = tshark(path, stream_filter + " && tcp.flags.syn==1 && tcp.flags.ack==0",
                     ["ip.src", "ipv6.src", "tcp.srcport"])
    out = []
    client = None
    if not udp and syn:
        client = ((syn[0][0] or syn[0][1]), syn[0][2])
    for r in rows:
        frame, src4, src6, port, payload = r
        ep = (src4 or src6, port)
        if server_port is not None:
            out.append((int(frame), "s" if int(port) == server_port else "c", payload.replace(":", "")))
            continue
        if client is None:
            client = ep
        out.append((int(frame), "c" if ep == client else "s", payload.replace(":", "")))
    return out

def write(name, segs, facts):
    with open(os.path.join(HERE, name + ".segments"), "w") as f:
        for fr, d, h in segs:
            f.write(f"{fr} {d} {h}\n")
    with open(os.path.join(HERE, name + ".tshark"), "w") as f:
        for k, fr, v in facts:
            f.write(f"{k}\t{fr}\t{v}\n")

def openssl_name(der, which):
    p = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout", "-" + which, "-nameopt", "RFC2253"],
                       input=der, capture_output=True)
    s = p.stdout.decode("utf-8", "replace").strip()
    return s.split("=", 1)[1] if "=" in s else ""

def tls_facts(path, filt):
    facts = []
    for fr, sni, ja3f, ja3, ver, cs, sv in tshark(path, filt + " && tls.handshake.type==1", [
            "frame.number", "tls.handshake.extensions_server_name", "tls.handshake.ja3_full", "tls.handshake.ja3",
            "tls.handshake.version", "tls.handshake.ciphersuite", "tls.handshake.extensions.supported_version"]):
        facts += [("sni", fr, sni), ("ja3_full", fr, ja3f), ("ja3", fr, ja3)]
    for fr, cs, sv in tshark(path, filt + " && tls.handshake.type==2", [
            "frame.number", "tls.handshake.ciphersuite", "tls.handshake.extensions.supported_version"]):
        facts += [("server_cipher", fr, cs.split("|")[-1]), ("server_supported_version", fr, sv)]
    for fr, certs in tshark(path, filt + " && tls.handshake.type==11", ["frame.number", "tls.handshake.certificate"]):
        for i, h in enumerate(c for c in certs.split("|") if c):
            der = bytes.fromhex(h.replace(":", ""))
            facts.append(("cert", fr, "\t".join([str(i), hashlib.sha256(der).hexdigest(), hashlib.sha1(der).hexdigest(),
                                                 openssl_name(der, "subject"), openssl_name(der, "issuer")])))
    for fr, sans in tshark(path, filt + " && tls.handshake.type==11", ["frame.number", "x509ce.dNSName"]):
        facts.append(("san_dns", fr, sans))
    for fr, lvl, desc in tshark(path, filt + " && tls.record.content_type==21", [
            "frame.number", "tls.alert_message.level", "tls.alert_message.desc"]):
        facts.append(("alert", fr, f"{lvl}/{desc}"))
    return facts

def http_facts(path, filt):
    facts = []
    for fr, m, uri, host in tshark(path, filt + " && http.request", ["frame.number", "http.request.method",
                                                                     "http.request.uri", "http.host"]):
        facts.append(("request", fr, f"{m}\t{uri}\t{host}"))
    for fr, code, enc, clen in tshark(path, filt + " && http.response", ["frame.number", "http.response.code",
                                                                         "http.content_encoding", "http.content_length"]):
        facts.append(("response", fr, f"{code}\t{enc}\t{clen}"))
    return facts

def http_bodies(segs):
    """Independent oracle for response bodies: Python's own framing (Content-Length only) and zlib decoding.
    Yields ("body", index, "<decoded length>\t<sha256 of decoded body>") per response with a Content-Length."""
    import zlib
    data = b"".join(bytes.fromhex(h) for _, d, h in segs if d == "s")
    facts, pos, index = [], 0, 0
    while True:
        end = data.find(b"\r\n\r\n", pos)
        if end < 0:
            break
        head = data[pos:end].decode("latin-1").split("\r\n")
        hdrs = {l.split(":", 1)[0].strip().lower(): l.split(":", 1)[1].strip() for l in head[1:] if ":" in l}
        if "content-length" not in hdrs:
            break
        n = int(hdrs["content-length"])
        body = data[end + 4:end + 4 + n]
        if hdrs.get("content-encoding", "").lower() in ("gzip", "x-gzip", "deflate"):
            body = zlib.decompress(body, 47)
        facts.append(("body", str(index), f"{len(body)}\t{hashlib.sha256(body).hexdigest()}"))
        pos, index = end + 4 + n, index + 1
    return facts

def dns_facts(path, filt):
    facts = []
    for fr, i, flags, q, a, aaaa, cname, ancount in tshark(path, filt, [
            "frame.number", "dns.id", "dns.flags", "dns.qry.name", "dns.a", "dns.aaaa", "dns.cname", "dns.count.answers"]):
        facts.append(("dns", fr, "\t".join([i, flags, q, a, aaaa, cname, ancount])))
    return facts

def main():
    jobs = [
        # name, corpus path, display filter, kind
        ("tls12_ja4", "suricata-verify/ja4-tls__input.pcap", "tcp.stream==0", "tls"),
        ("tls12_fragmented_hello", "suricata-verify/tls__tls-client-hello-frag-01__dump_mtu300.pcap", "tcp.stream==0", "tls"),
        ("tls12_scapy_nss", "scapy/doc__notebooks__tls__raw_data__tls_nss_example.pcap", "tcp.stream==0", "tls"),
        ("tls12_notion", "censorship/centrace/104.16.7.6_notion.site_example.com.pcap", "tcp.stream==0", "tls"),
        ("tls13_tripwire", "censorship/tripwire/testdata__tripwire-1597963966.pcap", "tcp.stream==36", "tls"),
        ("http_compressed", "scapy/http_compressed.pcap", "tcp", "http"),
        ("http_pipelined_gzip", "zeek/http__pipelined-requests.pcap", "tcp.stream==0", "http"),
        ("http_post", "zeek/http__post.pcap", "tcp.stream==0", "http"),
        ("http_dpkt_gzip", "dpkt/http.pcap", "tcp.stream==1", "http"),
        ("http_full_request_v6", "censorship/tripwire/testdata__full_http_request.pcap", "tcp.stream==0", "http8081"),
        ("dns_udp", "gopacket/pcap__test_dns.pcap", "udp && dns", "dnsudp"),
        ("dns_tcp", "tcpdump/dns_tcp.pcap", "tcp.stream==0", "dnstcp"),
        ("dns_tcp_multi", "suricata-verify/dns__dns-tcp-multirequest-buffer__dns-tcp-multirequest-buffer.pcap", "tcp.stream==0", "dnstcp"),
        ("dns_forward_pointer", "suricata-verify/dns__dns-forward-pointer__input.pcap", "udp", "dnsudp"),
        ("dns_edns_opts", "tcpdump/edns-opts.pcap", "udp && dns", "dnsudp"),
    ]
    for name, rel, filt, kind in jobs:
        path = os.path.join(CORPUS, rel)
        if not os.path.exists(path):
            print("missing", path); continue
        if kind == "tls":
            write(name, segments(path, filt), tls_facts(path, filt))
        elif kind == "http":
            segs = segments(path, filt, server_port=80)
            write(name, segs, http_facts(path, filt) + http_bodies(segs))
        elif kind == "http8081":
            segs = segments(path, filt, server_port=8081)
            write(name, segs, http_facts(path, filt) + http_bodies(segs))
        elif kind == "dnsudp":
            write(name, segments(path, filt, udp=True), dns_facts(path, filt))
        elif kind == "dnstcp":
            write(name, segments(path, filt), dns_facts(path, filt + " && dns"))
        print("wrote", name)

if __name__ == "__main__":
    main()

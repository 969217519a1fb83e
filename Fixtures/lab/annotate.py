#!/usr/bin/python3
"""Write truth.json (schema kzforensics.truth/1) for one scenario directory made by run-lab.sh.

Injected frames are found by construction, not by a detector heuristic: a frame at the client claiming the server
that the server-side capture never sent (and the reverse at the server), see lib/labpcap.py. ICMP errors come from
router addresses and are classified by type and source.
"""
import json, os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import labpcap as L  # noqa: E402

B = "blocked.kz.example"
SPEC = {
    "baseline": dict(desc="No censor: DNS, HTTP and HTTPS (IPv4 and IPv6) for blocked and allowed names all succeed; "
                          "a UDP traceroute shows the five routers.", detector=None, blocked=[]),
    "http_rst_inpath": dict(desc="In-path iptables string match on the HTTP Host header drops the request and answers "
                                 "the client with a RST (REJECT tcp-reset).", detector="tcp.rst_injection",
                            blocked=[{"host": B}], conf="medium"),
    "http_rst_onpath": dict(desc="On-path injector sees the HTTP Host header and races forged RSTs to both ends while "
                                 "the request still reaches the server.", detector="tcp.rst_injection",
                            blocked=[{"host": B}], conf="medium"),
    "sni_rst_inpath": dict(desc="In-path iptables string match on the TLS SNI drops the ClientHello and answers the "
                                "client with a RST.", detector="tcp.rst_injection", blocked=[{"sni": B}], conf="medium"),
    "sni_rst_onpath": dict(desc="On-path injector sees the SNI in the ClientHello and races forged RSTs to both ends.",
                           detector="tcp.rst_injection", blocked=[{"sni": B}], conf="medium"),
    "sni_drop": dict(desc="The ClientHello with a blocked SNI and all its retransmissions are silently dropped; "
                          "control connections to the same server IP with an allowed SNI succeed.",
                     detector="tls.sni_blocking", blocked=[{"sni": B}], conf="medium"),
    "dns_injection": dict(desc="On-path injector answers a DNS query for a blocked name with a forged A record that "
                               "beats the real (later) answer from the resolver.", detector="dns.injection",
                          blocked=[{"qname": B}], conf="high"),
    "http_blockpage": dict(desc="On-path injector answers an HTTP request for a blocked host with a forged block page "
                                "and FIN that race the real response.", detector="http.block_page",
                           blocked=[{"host": B}], conf="high"),
    "tls_interception": dict(desc="In-path TLS proxy terminates TLS 1.2 for a blocked SNI with a forged chain from the "
                                  "test 'Qaznet Trust Network' root via 'Security Certificate'; other SNIs are spliced.",
                             detector="tls.interception", blocked=[{"sni": B}], conf="high"),
    "ip_blackhole": dict(desc="Every packet to a blocked server IP is dropped, so its SYNs go unanswered while another "
                              "server on the same network answers.", detector="tcp.syn_drop",
                         blocked=[{"ip": "10.77.9.66"}], conf="low"),
    "icmp_prohibited": dict(desc="The censor router answers SYNs to a blocked IP with ICMP destination unreachable, "
                                 "communication administratively prohibited.", detector="icmp.unreachable_injection",
                            blocked=[{"ip": "10.77.9.67"}], conf="medium"),
    "throttling": dict(desc="Connections whose ClientHello names the throttled host are shaped by tbf to 400 kbit/s "
                            "while a control download from the same server runs at full speed.",
                       detector="tcp.throttling", blocked=[{"sni": "throttled.kz.example"}], conf="low"),
    "two_vantages": dict(desc="The same blocked HTTP request from two vantage points: the path of client.pcap crosses "
                              "an in-path RST censor, the path of client2.pcap does not.", detector="tcp.rst_injection",
                         blocked=[{"host": B}], conf="medium", only_capture="client.pcap"),
    "sweep_http_inpath": dict(desc="CenTrace TTL sweep: blocked and control HTTP requests sent with IP TTL 1..7 toward "
                                   "an in-path RST censor.", detector="tcp.rst_injection", blocked=[{"host": B}],
                              conf="medium", sweep=True),
    "sweep_http_onpath": dict(desc="CenTrace TTL sweep: blocked and control HTTP requests sent with IP TTL 1..7 toward "
                                   "an on-path RST injector.", detector="tcp.rst_injection", blocked=[{"host": B}],
                              conf="medium", sweep=True),
    "sweep_sni_onpath": dict(desc="CenTrace TTL sweep: blocked and control TLS ClientHellos sent with IP TTL 1..7 "
                                  "toward an on-path RST injector.", detector="tcp.rst_injection", blocked=[{"sni": B}],
                             conf="medium", sweep=True),
    "sweep_sni_inpath": dict(desc="CenTrace TTL sweep: blocked and control TLS ClientHellos sent with IP TTL 1..7 "
                                  "toward an in-path RST censor.", detector="tcp.rst_injection", blocked=[{"sni": B}],
                             conf="medium", sweep=True),
    "http_rst_inpath_v6": dict(desc="IPv6: in-path ip6tables string match on the HTTP Host header drops the request "
                                    "and answers the client with a RST (REJECT tcp-reset).",
                               detector="tcp.rst_injection", blocked=[{"host": B}], conf="medium", v6=True),
    "sweep_http_nfqueue": dict(desc="CenTrace TTL sweep: blocked and control HTTP requests sent with IP TTL 1..7 "
                                    "toward an in-path censor on an NFQUEUE in raw PREROUTING that drops the request "
                                    "and answers with a RST.", detector="tcp.rst_injection", blocked=[{"host": B}],
                               conf="medium", sweep=True),
    "sweep_sni_drop": dict(desc="CenTrace TTL sweep: blocked and control TLS ClientHellos sent with IP TTL 1..7 toward "
                                "an in-path censor that silently drops the blocked ClientHello.",
                           detector="tls.sni_blocking", blocked=[{"sni": B}], conf="medium", sweep=True),
    # negative controls: real traffic, no censor; nothing may be reported above `low`
    "control_server_rst": dict(desc="Negative control, no censor: the server itself resets connections. Two SYNs to "
                                    "closed ports get the server kernel's RST+ACK (Zeek REJ); two HTTP servers answer "
                                    "200 and then reset (SO_LINGER 0); one aborts a 60 kB response after about 12 kB "
                                    "with a RST; one answers and closes with the request body unread, so its kernel "
                                    "resets. Every RST comes from the server with the server's TTL.",
                               detector=None, blocked=[], control=True),
    "control_nat_rst": dict(desc="Negative control, no censor: hop 2 is a NAT (MASQUERADE to 10.77.2.2, established "
                                 "TCP state timeout 20 s, no mid-stream pickup, INVALID TCP answered with tcp-reset). "
                                 "A keep-alive HTTP connection idles 35 s; its next request matches no NAT state and "
                                 "the NAT router answers it with a RST in the server's name, from 2 hops nearer than "
                                 "the server. A connection idle 5 s and fresh connections pass normally.",
                            detector=None, blocked=[], control=True,
                            middlebox="the NAT on hop 2 (10.77.1.1) answered a segment sent after its state timeout"),
    "control_cdn_rotation": dict(desc="Negative control, no censor: an authoritative DNS server answers repeated "
                                      "queries for cdn.example (six, separate IDs and ports) with one of four edge "
                                      "addresses in rotation and varying answer TTLs (20..3600 s), and "
                                      "multi.cdn.example with a rotating pair; the client fetches a page from each "
                                      "returned address.", detector=None, blocked=[], control=True),
    "control_retransmissions_tls13": dict(desc="Negative control, no censor: hop 3 is a lossy link (lib/nfq_impair.py: "
                                               "drops, 25 ms holds that reorder, byte-identical duplicates, a lost SYN "
                                               "and lost first requests/ClientHellos) under two HTTP downloads and two "
                                               "TLS 1.3 downloads of 30 kB; the endpoints' TCP repairs every loss.",
                                          detector=None, blocked=[], control=True),
}
VARIABLE = ["timestamps", "client_ports", "tcp_seq", "ip_id", "dns_id", "checksums", "frame_numbers",
            "frame_count", "retransmission_count", "certificates", "tls_random", "durations"]


NOTES = {
    "afpacket-injector": "on-path tap: at the first triggering TTL the censor hop returns both the injected RST and "
                         "ICMP time-exceeded",
    "iptables-reject": "in-path filter on FORWARD: the router's TTL check runs first, so the probe first triggers at "
                       "TTL hop+1 and a plain CenTrace reading names the router one hop past the censor",
    "iptables-drop": "in-path silent drop on FORWARD: probes with TTL <= hop get time-exceeded, blocked probes from "
                     "TTL hop+1 on get nothing at all while control probes keep getting answers; a plain CenTrace "
                     "reading names the router one hop past the censor",
    "nfqueue": "in-path NFQUEUE in raw PREROUTING, before the TTL check: the probe with TTL = hop already triggers "
               "the RST and is swallowed, so that TTL gets no time-exceeded",
}


def is_blocked(target, spec):
    return any(target == b for b in spec["blocked"])


def control_flows(cap, fr, forged, spec, clean, middlebox):
    """Negative controls: every TCP flow and DNS transaction is clean (nobody censors anything). Frames the peer never
    sent are listed as middlebox_frames with who sent them; in a control only the NAT scenario may have any."""
    for fl in L.flows(fr):
        if fl.proto not in ("tcp", "udp") or (fl.proto == "udp" and fl.key[4] != 53):
            continue
        if not fl.from_server():
            continue
        entry = {"capture": cap, "proto": fl.proto, "server": fl.server, "target": fl.target}
        if entry not in clean:
            clean.append(entry)
        mine = sorted(f.no for f in fl.frames if f.no in forged)
        if mine:
            middlebox.append({"capture": cap, "proto": fl.proto, "server": fl.server, "target": fl.target,
                              "frames": mine, "kinds": sorted({L.injected_kind(fr[n - 1]) for n in mine}),
                              "ttl": sorted({fr[n - 1].ttl for n in mine}),
                              "sender": spec.get("middlebox", "unexplained")})


def main():
    sd = sys.argv[1]
    meta = json.load(open(os.path.join(sd, ".meta.json")))
    scen = meta["scenario"]
    spec = SPEC[scen]
    caps = []
    for name, vantage in (("client.pcap", "client"), ("client2.pcap", "client2"), ("server.pcap", "server")):
        if os.path.exists(os.path.join(sd, name)):
            caps.append({"file": name, "vantage": vantage})
    frames = {c["file"]: L.load(os.path.join(sd, c["file"])) for c in caps}
    forged_by_cap = L.forged_by_capture(frames, {c["file"]: c["vantage"] for c in caps}, scen)
    censor = meta["censor"]
    interfered, clean = [], []
    middlebox = []
    sweep_probes = []
    for c in caps:
        fr = frames[c["file"]]
        forged = forged_by_cap[c["file"]]
        if spec.get("control"):
            control_flows(c["file"], fr, forged, spec, clean, middlebox)
            continue
        for fl in L.flows(fr):
            if fl.proto not in ("tcp", "udp"):
                continue
            if fl.key[2] >= 33434 and fl.key[4] >= 33434:
                continue
            if fl.proto == "udp" and fl.key[4] != 53:
                continue   # traceroute probes
            ff = sorted(f.no for f in fl.frames if f.no in forged)
            icmp_unreach = sorted(f.no for f in fl.frames if L.icmp_info(f) == (3, 13))
            blocked = is_blocked(fl.target, spec) and (spec.get("only_capture") in (None, c["file"]))
            entry = {"capture": c["file"], "proto": fl.proto, "server": fl.server, "target": fl.target}
            if spec.get("sweep") and c["vantage"] == "client":
                data = [f for f in fl.from_client() if f.payload]
                ttl = data[0].ttl if data else None
                if blocked and (ttl is None or ttl < censor["first_trigger_ttl"]):
                    blocked = False   # expired before the censor: neither interfered nor clean
                sweep_probes.append({"ttl": ttl, "role": "blocked" if is_blocked(fl.target, spec) else "control",
                                     "client_port": fl.key[2], "frames": [f.no for f in fl.frames],
                                     "injected_frames": ff,
                                     "time_exceeded": sorted({f.src for f in fl.frames if L.icmp_info(f) == (11, 0)})})
            if c["vantage"] == "server":
                if ff and censor and censor["style"] == "on-path":
                    # the forged RST toward the server, seen in the server-side capture
                    interfered.append(dict(detector="tcp.rst_injection", **entry, injected_frames=ff,
                                           min_confidence="medium"))
                elif blocked and spec["detector"] == "tcp.throttling":
                    interfered.append(dict(detector="tcp.throttling", **entry, injected_frames=[],
                                           min_confidence="low"))
                elif blocked and fl.key[1] in L.CLIENTS and spec["detector"] != "tls.interception":
                    pass      # the server-side half of an interfered connection: neither interfered nor clean
                elif not ff and fl.server_payload() > 0:
                    clean.append(entry)
                continue
            if blocked and (ff or icmp_unreach or spec["detector"] in ("tls.sni_blocking", "tcp.syn_drop",
                                                                         "tcp.throttling", "tls.interception")):
                inj = icmp_unreach if spec["detector"] == "icmp.unreachable_injection" else ff
                if spec["detector"] == "http.block_page":
                    fins = [n for n in ff if "F" in fr[n - 1].flags() and not fr[n - 1].payload]
                    body = [n for n in ff if n not in fins]
                    interfered.append(dict(detector="http.block_page", **entry, injected_frames=body,
                                           min_confidence=spec["conf"]))
                    if fins:
                        interfered.append(dict(detector="tcp.fin_injection", **entry, injected_frames=fins,
                                               min_confidence="medium"))
                else:
                    interfered.append(dict(detector=spec["detector"], **entry, injected_frames=inj,
                                           min_confidence=spec["conf"]))
            elif not ff and fl.server_payload() > 0:
                clean.append(entry)
            elif ff and spec["detector"] == "tls.interception" and not blocked and fl.server_payload() > 0:
                clean.append(entry)   # spliced by the proxy: TCP terminated there, bytes untouched
    sweep = None
    if spec.get("sweep"):
        k = censor["hop"]
        on_path = censor["style"] == "on-path"
        first = censor["first_trigger_ttl"]
        sweep = {"blocked_target": spec["blocked"][0].get("host") or spec["blocked"][0].get("sni"),
                 "control_target": "allowed.example", "first_trigger_ttl": first, "censor_hop": k,
                 "router": censor["router"], "on_path": on_path, "verdict": "CAN_IDENTIFY_SERVER",
                 "identified_hop": first, "identified_router": L.HOPS[first - 1]["router"],
                 "note": NOTES[censor["mechanism"]],
                 "probes": sorted(sweep_probes, key=lambda p: (p["ttl"] or 0, p["role"]))}
    interfered.sort(key=lambda e: (e["capture"], e["injected_frames"][:1] or [0], e["detector"], e["server"]))
    clean.sort(key=lambda e: (e["capture"], e["server"], json.dumps(e["target"], sort_keys=True)))
    truth = {"schema": "kzforensics.truth/1", "scenario": scen, "description": spec["desc"], "captures": caps,
             "topology": ({"client": L.CLIENT_V6, "server": L.SERVER_V6, "hops": L.HOPS_V6} if spec.get("v6") else
                          {"client": L.CLIENT, "server": L.SERVER, "hops": L.HOPS}),
             "censor": censor, "interfered": interfered, "clean": clean, "sweep": sweep, "variable": VARIABLE}
    if spec.get("control"):
        # beyond the schema: packets that the peer never sent but that an innocent middlebox did (a NAT's RST)
        truth["middlebox_frames"] = middlebox
    if "client2.pcap" in frames:
        truth["vantages"] = [{"capture": "client2.pcap", "client": L.CLIENT2, "hops": L.HOPS2,
                              "crosses_censor": False}]
    if censor and spec.get("sweep") is None and not interfered and spec["detector"]:
        print(f"annotate: {scen}: no interfered flow found", file=sys.stderr)
    with open(os.path.join(sd, "truth.json"), "w") as fh:
        json.dump(truth, fh, indent=1, sort_keys=False)
        fh.write("\n")
    print(f"annotate: {scen}: {sum(len(v) for v in frames.values())} frames, {len(interfered)} interfered, "
          f"{len(clean)} clean")


if __name__ == "__main__":
    main()

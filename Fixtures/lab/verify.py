#!/usr/bin/python3
"""Check every scenario capture against its truth.json, so that a broken lab run is caught.

usage: verify.py DIR [DIR...] [--record FILE]     (DIR is a lab output dir or one scenario dir)

Three layers of checks:
 1. what each scenario must show (EXPECT below: which detectors, how many interfered flows, which controls succeed),
    independent of what annotate.py wrote;
 2. that truth.json matches the capture: the injected frames are exactly the frames the peer never sent, of the
    right kind, with the IP TTL the censor's hop and initial TTL imply; clean flows finished normally;
 3. scenario mechanics: traceroute / sweep time-exceeded sources are the topology's routers, the sweep's first
    triggering TTL, SYN drops, silent ClientHello drops, throttling ratio, the interception chain.
"""
import json, os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import labpcap as L  # noqa: E402
from scapy.all import DNS, IP  # noqa: E402

B, A = "blocked.kz.example", "allowed.example"
# scenario -> (list of (detector, capture, count), list of required clean (capture, target))
EXPECT = {
    "baseline": ([], [("client.pcap", {"host": B}), ("client.pcap", {"host": A}), ("client.pcap", {"sni": B}),
                      ("client.pcap", {"sni": A}), ("client.pcap", {"qname": B}), ("client.pcap", {"qname": A})]),
    "http_rst_inpath": ([("tcp.rst_injection", "client.pcap", 1)], [("client.pcap", {"host": A})]),
    "http_rst_inpath_v6": ([("tcp.rst_injection", "client.pcap", 1)], [("client.pcap", {"host": A})]),
    "http_rst_onpath": ([("tcp.rst_injection", "client.pcap", 1), ("tcp.rst_injection", "server.pcap", 1)],
                        [("client.pcap", {"host": A})]),
    "sni_rst_inpath": ([("tcp.rst_injection", "client.pcap", 1)], [("client.pcap", {"sni": A})]),
    "sni_rst_onpath": ([("tcp.rst_injection", "client.pcap", 1), ("tcp.rst_injection", "server.pcap", 1)],
                       [("client.pcap", {"sni": A})]),
    "sni_drop": ([("tls.sni_blocking", "client.pcap", 1)], [("client.pcap", {"sni": A})]),
    "dns_injection": ([("dns.injection", "client.pcap", 1)], [("client.pcap", {"qname": A})]),
    "http_blockpage": ([("http.block_page", "client.pcap", 1), ("tcp.fin_injection", "client.pcap", 1)],
                       [("client.pcap", {"host": A})]),
    "tls_interception": ([("tls.interception", "client.pcap", 1)], [("client.pcap", {"sni": A})]),
    "ip_blackhole": ([("tcp.syn_drop", "client.pcap", 1)], [("client.pcap", {"host": A})]),
    "icmp_prohibited": ([("icmp.unreachable_injection", "client.pcap", 1)], [("client.pcap", {"host": A})]),
    "throttling": ([("tcp.throttling", "client.pcap", 1), ("tcp.throttling", "server.pcap", 1)],
                   [("client.pcap", {"sni": A})]),
    "two_vantages": ([("tcp.rst_injection", "client.pcap", 1)],
                     [("client.pcap", {"host": A}), ("client2.pcap", {"host": B}), ("client2.pcap", {"host": A})]),
}
# negative controls: no censor, no interfered flow; the mechanics are checked in verify_control
CONTROLS = {"control_server_rst", "control_nat_rst", "control_cdn_rotation", "control_retransmissions_tls13"}
SWEEPS = {"sweep_http_inpath", "sweep_http_onpath", "sweep_sni_onpath", "sweep_sni_inpath", "sweep_http_nfqueue",
          "sweep_sni_drop"}
TRUTH_KEYS = ["schema", "scenario", "description", "captures", "topology", "censor", "interfered", "clean", "sweep",
              "variable"]


class Check:
    def __init__(self, name):
        self.name, self.errors, self.n = name, [], 0

    def ok(self, cond, msg):
        self.n += 1
        if not cond:
            self.errors.append(msg)
        return cond


def find_flows(flows, entry):
    return [fl for fl in flows if fl.proto == entry["proto"] and fl.server == entry["server"]
            and fl.target == entry["target"]]


def expected_ttl(censor, vantage):
    if censor is None or censor.get("inject_ttl") is None:
        return None
    if vantage == "server":
        return censor["inject_ttl"] - (L.NROUTERS - censor["hop"])
    return censor["inject_ttl"] - (censor["hop"] - 1)


def verify_scenario(sd):
    tpath = os.path.join(sd, "truth.json")
    c = Check(os.path.basename(sd.rstrip("/")))
    if not c.ok(os.path.exists(tpath), "truth.json missing"):
        return c, 0
    t = json.load(open(tpath))
    for k in TRUTH_KEYS:
        c.ok(k in t, f"truth lacks key {k}")
    if c.errors:
        return c, 0
    c.ok(t["schema"] == "kzforensics.truth/1", "schema")
    scen = t["scenario"]
    c.name = scen
    c.ok(scen in EXPECT or scen in SWEEPS or scen in CONTROLS, f"unknown scenario {scen}")
    v6 = scen.endswith("_v6")
    hops = L.HOPS_V6 if v6 else L.HOPS
    c.ok(t["topology"]["hops"] == hops and t["topology"]["client"] == (L.CLIENT_V6 if v6 else L.CLIENT), "topology")
    frames, flows, forged = {}, {}, {}
    for cap in t["captures"]:
        p = os.path.join(sd, cap["file"])
        if not c.ok(os.path.exists(p), f"capture {cap['file']} missing"):
            return c, 0
        frames[cap["file"]] = L.load(p)
        c.ok(0 < len(frames[cap["file"]]) < 2000, f"{cap['file']}: {len(frames[cap['file']])} frames")
        flows[cap["file"]] = L.flows(frames[cap["file"]])
        cut = [f.no for f in frames[cap["file"]] if f.pkt.wirelen is not None and len(f.pkt) < f.pkt.wirelen]
        c.ok(not cut, f"{cap['file']}: truncated frames {cut[:5]}")
    vant = {cap["file"]: cap["vantage"] for cap in t["captures"]}
    for name, fl_list in flows.items():   # the client cannot ACK bytes that did not pass its own interface
        if vant[name] == "server":
            continue
        for fl in fl_list:
            srv = [f for f in fl.from_server() if f.tcp is not None]
            syn = [f for f in srv if f.tcp.flags.S]
            if fl.proto != "tcp" or not syn:
                continue
            isn = syn[0].tcp.seq
            spans = sorted(((f.tcp.seq - isn) % 2**32, (f.tcp.seq - isn) % 2**32 + len(f.payload)
                            + (1 if f.tcp.flags.F else 0)) for f in srv if not f.tcp.flags.S)
            covered = 1                    # relative sequence 1 follows the SYN
            for a, b in spans:
                if a <= covered:
                    covered = max(covered, b)
            acks = [(f.tcp.ack - isn) % 2**32 for f in fl.from_client() if f.tcp is not None and f.tcp.flags.A]
            c.ok(not acks or max(acks) <= covered, f"{name}: client ACKs {max(acks) if acks else 0} bytes of "
                                                   f"{fl.server} but the capture holds them only up to {covered}: "
                                                   f"capture lost packets")
    for name, fl_list in flows.items():   # nothing left over from an earlier scenario: every TCP flow starts here
        stray = [fl.client for fl in fl_list if fl.proto == "tcp" and fl.frames[0].tcp is not None
                 and not (fl.frames[0].tcp.flags.S and not fl.frames[0].tcp.flags.A)]
        c.ok(not stray, f"{name}: TCP flows that started before the capture: {stray[:4]}")
    server_frames = frames.get("server.pcap", [])
    forged = L.forged_by_capture(frames, vant, scen)
    censor = t["censor"]
    total = sum(len(v) for v in frames.values())

    # --- censor record
    if censor is not None:
        c.ok(1 <= censor["hop"] <= 4 and censor["router"] == hops[censor["hop"] - 1]["router"], "censor router/hop")
        c.ok(censor["style"] in ("in-path", "on-path"), "censor style")
        ft = censor["first_trigger_ttl"]
        if ft is not None:
            early = censor["style"] == "on-path" or censor["mechanism"] in ("tls-proxy", "nfqueue")
            want = censor["hop"] if early else censor["hop"] + 1
            c.ok(ft == want, f"first_trigger_ttl {ft} != {want} for {censor['style']} {censor['mechanism']}")
    else:
        c.ok(not t["interfered"], "no censor but interfered flows listed")

    # --- layer 1: scenario expectations
    if scen in EXPECT:
        dets, cleans = EXPECT[scen]
        for det, cap, n in dets:
            got = [e for e in t["interfered"] if e["detector"] == det and e["capture"] == cap]
            c.ok(len(got) == n, f"expected {n} {det} in {cap}, truth has {len(got)}")
        c.ok(len(t["interfered"]) == sum(n for _, _, n in dets), f"interfered count {len(t['interfered'])}")
        for cap, target in cleans:
            c.ok(any(e["capture"] == cap and e["target"] == target for e in t["clean"]),
                 f"control {target} in {cap} not clean")
    # every flow that carries forged frames must be accounted for as interfered (or as a proxy splice)
    for name in frames:
        listed = {n for e in t["interfered"] if e["capture"] == name for n in e["injected_frames"]}
        listed |= {n for e in t.get("middlebox_frames") or [] if e["capture"] == name for n in e["frames"]}
        extra = forged[name] - listed
        if censor and censor["mechanism"] == "tls-proxy":
            extra = {n for n in extra if not any(n in [f.no for f in fl.frames] and fl.target == {"sni": A}
                                                 for fl in flows[name])}
        c.ok(not extra, f"{name}: forged frames not in truth: {sorted(extra)[:8]}")

    # --- layer 2: interfered entries against the capture
    for e in t["interfered"]:
        name = e["capture"]
        fr = frames.get(name)
        if not c.ok(fr is not None, f"interfered capture {name} not listed"):
            continue
        cand = find_flows(flows[name], e)
        if e["injected_frames"]:
            cand = [fl for fl in cand if e["injected_frames"][0] in [f.no for f in fl.frames]]
        if not c.ok(len(cand) >= 1, f"{e['detector']}: no flow {e['server']} {e['target']} in {name}"):
            continue
        fl = cand[0]
        inj = [fr[n - 1] for n in e["injected_frames"] if 1 <= n <= len(fr)]
        c.ok(len(inj) == len(e["injected_frames"]), f"{e['detector']}: frame number out of range")
        det = e["detector"]
        fl_forged = sorted(f.no for f in fl.frames if f.no in forged[name])
        ettl = expected_ttl(censor, vant[name])
        if det in ("tcp.rst_injection", "dns.injection", "http.block_page", "tcp.fin_injection", "tls.interception"):
            c.ok(all(n in forged[name] for n in e["injected_frames"]) and e["injected_frames"],
                 f"{det}: listed frames {e['injected_frames']} are not all absent from the peer capture")
            if det in ("tcp.rst_injection", "dns.injection", "tls.interception"):
                c.ok(e["injected_frames"] == fl_forged, f"{det}: injected {e['injected_frames']} != forged {fl_forged}")
            if ettl is not None:
                c.ok(all(f.ttl == ettl for f in inj), f"{det}: TTL {[f.ttl for f in inj]} != {ettl} "
                                                       f"(inject_ttl {censor['inject_ttl']}, hop {censor['hop']})")
        real = [f for f in fl.from_server() if f.no not in forged[name]]
        if det == "tcp.rst_injection":
            c.ok(all(f.tcp is not None and f.tcp.flags.R for f in inj), "rst_injection: non-RST frame listed")
            if vant[name] != "server":
                c.ok(all(f.ttl == L.SERVER_TTL - L.NROUTERS for f in real), "real server packets have unexpected TTL")
        elif det == "dns.injection":
            c.ok(all(DNS in f.pkt and f.pkt[DNS].qr == 1 for f in inj), "dns: injected frame is not an answer")
            c.ok(len(real) >= 1, "dns: the real answer never arrived")
            if real and inj:
                c.ok(inj[0].ts < real[0].ts, "dns: forged answer did not win the race")
                c.ok(L.dns_answers(inj[0]) != L.dns_answers(real[0]), "dns: forged and real answers agree")
                c.ok(inj[0].pkt[DNS].id == real[0].pkt[DNS].id, "dns: forged answer has another query id")
        elif det == "http.block_page":
            c.ok(all(f.payload.startswith(b"HTTP/1.") and "ограничен".encode() in f.payload for f in inj),
                 "block_page: frame is not the block page")
            late = [f for f in real if f.payload]
            c.ok(bool(late) and inj and late[0].ts > inj[0].ts, "block_page: no later real response (no race)")
        elif det == "tcp.fin_injection":
            c.ok(all(f.tcp is not None and f.tcp.flags.F and not f.payload for f in inj), "fin_injection: not a FIN")
        elif det == "tls.interception":
            blob = b"".join(f.payload for f in inj)
            c.ok(b"Qaznet Trust Network" in blob, "interception: intermediate not issued by 'Qaznet Trust Network'")
            c.ok(b"Security Certificate" in blob, "interception: chain lacks the 'Security Certificate' intermediate")
            c.ok(b"\x16\x03\x03" in blob and b"\x0b\x00" in blob, "interception: no TLS 1.2 Certificate message")
            c.ok(b"Example Media B.V." in blob and B.encode() in blob, "interception: leaf lacks the copied subject")
            c.ok(all(f.ttl == ettl for f in inj), "interception: proxy TTL")
        elif det == "tls.sni_blocking":
            hellos = [f for f in fl.from_client() if f.payload and L.parse_sni(f.payload) == e["target"]["sni"]]
            c.ok(len(hellos) >= 2 and len({f.tcp.seq for f in hellos}) == 1, f"sni drop: {len(hellos)} ClientHellos")
            c.ok(fl.server_payload() == 0 and not fl_forged, "sni drop: bytes came back")
            ctl = [x for x in flows[name] if x.key[3] == fl.key[3] and x.target.get("sni") not in (None, e["target"]["sni"])
                   and x.server_payload() > 0]
            c.ok(len(ctl) >= 1, "sni drop: no control to the same IP")
            c.ok(not any(L.parse_sni(f.payload) == e["target"]["sni"] for f in server_frames if f.payload),
                 "sni drop: a blocked ClientHello reached the server")
        elif det == "tcp.syn_drop":
            syns = [f for f in fl.from_client() if f.tcp is not None and f.tcp.flags.S]
            c.ok(len(syns) >= 2 and not fl.from_server(), f"syn drop: {len(syns)} SYNs, {len(fl.from_server())} answers")
            c.ok(not any(f.dst == fl.key[3] for f in server_frames), "syn drop: a SYN reached the server")
        elif det == "icmp.unreachable_injection":
            c.ok(inj and all(L.icmp_info(f) == (3, 13) and f.src == censor["router"] for f in inj),
                 "icmp: not admin-prohibited from the censor router")
            c.ok(all(f.ttl == ettl for f in inj), f"icmp: TTL {[f.ttl for f in inj]} != {ettl}")
            c.ok(not any(f.dst == fl.key[3] for f in server_frames), "icmp: a SYN reached the server")
        elif det == "tcp.throttling":
            def rate(x):
                """Bytes per second over the bulk of the transfer: from the frame that passes 10 % of the server's
                payload to the one that passes 90 % (leaves out handshakes and the origin's answer delay)."""
                d = [f for f in x.from_server() if f.payload]
                total = sum(len(f.payload) for f in d)
                if len(d) < 10:
                    return 0.0, total
                acc, t10, t90, b10, b90 = 0, None, None, 0, 0
                for f in d:
                    acc += len(f.payload)
                    if t10 is None and acc >= total * 0.1:
                        t10, b10 = f.ts, acc
                    if t90 is None and acc >= total * 0.9:
                        t90, b90 = f.ts, acc
                return (b90 - b10) / max(t90 - t10, 1e-4), total
            r, nbytes = rate(fl)
            ctl = [rate(x)[0] for x in flows[name] if x.target == {"sni": A}]
            c.ok(nbytes > 50000 and ctl and r * 4 < max(ctl), f"throttling: {r:.0f} B/s vs control {ctl}")
            c.ok(not fl_forged, "throttling: forged frames")

    # --- layer 2: clean entries
    for e in t["clean"]:
        name = e["capture"]
        cand = find_flows(flows.get(name, []), e)
        if not c.ok(bool(cand), f"clean flow {e['server']} {e['target']} not in {name}"):
            continue
        good = False
        for fl in cand:
            ff = [f.no for f in fl.frames if f.no in forged[name]]
            payload = b"".join(f.payload for f in fl.from_server())
            if ff and not (censor and censor["mechanism"] == "tls-proxy") and scen not in CONTROLS:
                continue
            if scen in CONTROLS:
                good |= control_flow_ok(fl, e["target"])
            elif "host" in e["target"]:
                good |= payload.startswith(b"HTTP/1.1 200") and b"Real content of " + e["target"]["host"].encode() in payload
            elif "qname" in e["target"]:
                good |= any(L.dns_answers(f) == ["10.77.9.2"] for f in fl.from_server())
            else:
                good |= len(payload) > 0
        c.ok(good, f"clean flow {e['server']} {e['target']} in {name} did not complete")

    # --- layer 3: topology seen in the capture
    cf = frames.get("client.pcap", [])
    tex = [f for f in cf if L.icmp_info(f) == (11, 0)]
    if scen == "baseline":
        trace = sorted([(f.ttl, f.src) for f in tex])
        routers = [h["router"] for h in L.HOPS]
        srcs = []
        for f in cf:
            if L.icmp_info(f) == (11, 0):
                srcs.append(f.src)
        c.ok(srcs == routers, f"traceroute routers {srcs} != {routers}")
        c.ok(any(L.icmp_info(f) == (3, 3) and f.src == L.SERVER for f in cf), "traceroute: no port unreachable")
        c.ok(all(f.ttl == 64 - i for i, f in enumerate(x for x in cf if L.icmp_info(x) == (11, 0))),
             "time-exceeded TTLs do not count the hops")
    if scen == "two_vantages":
        c.ok(t.get("vantages", [{}])[0].get("crosses_censor") is False, "second vantage not recorded")
        c2 = [f for f in frames.get("client2.pcap", []) if f.src == L.SERVER and f.tcp is not None]
        c.ok(c2 and all(f.ttl == 64 - 3 for f in c2), "client2 path is not 3 routers long")
        c.ok(not forged.get("client2.pcap"), "client2 saw forged frames")
    if scen in SWEEPS:
        sw = t["sweep"]
        if c.ok(sw is not None, "sweep missing"):
            first, hop = sw["first_trigger_ttl"], sw["censor_hop"]
            c.ok(hop == censor["hop"] and first == censor["first_trigger_ttl"] and sw["router"] == censor["router"],
                 "sweep and censor disagree")
            c.ok(sw["on_path"] == (censor["style"] == "on-path"), "sweep on_path")
            byframe = {}   # ports get reused across probes, so a probe is found by its first frame
            for fl in flows["client.pcap"]:
                if fl.proto == "tcp":
                    for f in fl.frames:
                        byframe.setdefault(f.no, fl)
            seen_ttls = set()
            for p in sw["probes"]:
                fl = byframe.get(p["frames"][0]) if p["frames"] else None
                if not c.ok(fl is not None and fl.key[2] == p["client_port"], f"probe port {p['client_port']} missing"):
                    continue
                data = [f for f in fl.from_client() if f.payload]
                ttl = data[0].ttl if data else None
                c.ok(ttl == p["ttl"], f"probe ttl {ttl} != {p['ttl']}")
                seen_ttls.add((p["ttl"], p["role"]))
                ff = [f.no for f in fl.frames if f.no in forged["client.pcap"]]
                te = {f.src for f in fl.frames if L.icmp_info(f) == (11, 0)}
                want_te = {L.HOPS[ttl - 1]["router"]} if ttl and ttl <= L.NROUTERS else set()
                if p["role"] == "blocked" and ttl >= first and censor["mechanism"] == "iptables-drop":
                    c.ok(not ff and not te and fl.server_payload() == 0, f"dropped probe ttl {ttl}: got an answer")
                    c.ok(len(data) >= 2, f"dropped probe ttl {ttl}: request not retransmitted")
                elif p["role"] == "blocked" and ttl >= first:
                    c.ok(bool(ff) and all(fr.tcp is not None and fr.tcp.flags.R for fr in
                                          (frames["client.pcap"][n - 1] for n in ff)),
                         f"blocked probe ttl {ttl}: no injected RST")
                    if sw["on_path"]:
                        c.ok(te == want_te, f"on-path probe ttl {ttl}: time-exceeded {te} != {want_te}")
                    else:
                        c.ok(not te, f"in-path probe ttl {ttl}: unexpected time-exceeded {te}")
                else:
                    c.ok(not ff, f"{p['role']} probe ttl {ttl}: injected frames {ff}")
                    c.ok(te == want_te, f"{p['role']} probe ttl {ttl}: time-exceeded {te} != {want_te}")
                    if p["role"] == "control" and ttl > L.NROUTERS:
                        c.ok(fl.server_payload() > 0, f"control probe ttl {ttl}: no server answer")
            maxttl = max(p["ttl"] for p in sw["probes"])
            c.ok(len(seen_ttls) == 2 * maxttl and maxttl > L.NROUTERS, f"sweep covers {sorted(seen_ttls)}")
            c.ok(len(t["interfered"]) == (maxttl - first + 1) * (2 if sw["on_path"] else 1),
                 f"sweep interfered {len(t['interfered'])}")
    if scen in CONTROLS:
        verify_control(c, scen, t, frames, flows, forged)
    return c, total


def server_stream(fl):
    """The server's bytes in sequence order (segments lost and retransmitted, reordered or duplicated on the path are
    put back in place); arrival order for UDP."""
    srv = fl.from_server()
    syn = [f for f in srv if f.tcp is not None and f.tcp.flags.S]
    if fl.proto != "tcp" or not syn:
        return b"".join(f.payload for f in srv)
    isn = syn[0].tcp.seq
    buf = bytearray()
    for f in sorted((f for f in srv if f.payload), key=lambda f: (f.tcp.seq - isn) % 2**32):
        off = (f.tcp.seq - isn - 1) % 2**32
        if off <= len(buf):
            buf[off:off + len(f.payload)] = f.payload
    return bytes(buf)


def control_flow_ok(fl, target):
    """A negative control's flow did what the client asked for: HTTP 200 with the real page or download, a TLS
    exchange, a DNS answer, or (closed port) the server's own RST+ACK to the SYN."""
    payload = server_stream(fl)
    if "host" in target:
        return payload.startswith(b"HTTP/1.1 200") and (b"Real content of " + target["host"].encode() in payload
                                                         or b"kzlab-download-" + target["host"].encode() in payload)
    if "qname" in target:
        return any(f.pkt[DNS].qr == 1 and L.dns_answers(f) for f in fl.from_server() if DNS in f.pkt)
    if "sni" in target:
        return len(payload) > 0
    return any(f.tcp is not None and f.tcp.flags.R and f.tcp.flags.A for f in fl.from_server())


def first_app_record_version(payload):
    """Negotiated TLS version from a ServerHello at the start of payload: supported_versions (RFC 8446 §4.2.1) or the
    legacy version."""
    try:
        if payload[0] != 22 or payload[5] != 2:
            return None
        hs = payload[9:]
        legacy = int.from_bytes(hs[0:2], "big")
        p = 2 + 32
        p += 1 + hs[p]
        p += 2 + 1
        ext_end = p + 2 + int.from_bytes(hs[p:p + 2], "big")
        p += 2
        while p + 4 <= ext_end:
            et, el = int.from_bytes(hs[p:p + 2], "big"), int.from_bytes(hs[p + 2:p + 4], "big")
            if et == 43 and el == 2:
                return int.from_bytes(hs[p + 4:p + 6], "big")
            p += 4 + el
        return legacy
    except IndexError:
        return None


def verify_control(c, scen, t, frames, flows, forged):
    """Layer 3 for the negative controls: the capture really holds what the control is about."""
    cf, sf = frames["client.pcap"], frames["server.pcap"]
    mb = t.get("middlebox_frames")
    c.ok(isinstance(mb, list), "control truth lacks middlebox_frames")
    mb = mb or []
    c.ok(t["censor"] is None and not t["interfered"], "a control has a censor or interfered flows")
    cflows = [fl for fl in flows["client.pcap"] if fl.proto == "tcp"]
    real_rsts = [f for fl in cflows for f in fl.from_server() if f.tcp.flags.R and f.no not in forged["client.pcap"]]
    c.ok(all(f.ttl == L.SERVER_TTL - L.NROUTERS for fl in cflows for f in fl.from_server()
             if f.no not in forged["client.pcap"]), "real server packets have unexpected TTL")
    if scen == "control_server_rst":
        c.ok(not mb and not any(forged.values()), f"server_rst: forged frames {forged}")
        rej = [fl for fl in cflows if len(fl.from_server()) == 1 and fl.from_server()[0].tcp.flags.R
               and fl.from_server()[0].tcp.flags.A]
        c.ok(len(rej) >= 2, f"server_rst: {len(rej)} SYNs answered by the server's RST+ACK (REJ)")
        after_page = [fl for fl in cflows if fl.server_payload() > 0 and fl.from_server()[-1].tcp.flags.R
                      and b"Real content of" in b"".join(f.payload for f in fl.from_server())]
        c.ok(len(after_page) >= 4, f"server_rst: {len(after_page)} flows end with the server's RST after its data")
        cut = []
        for fl in cflows:
            body = b"".join(f.payload for f in fl.from_server())
            if b"Content-Length: 60000" in body and fl.from_server()[-1].tcp.flags.R:
                cut.append(len(body.split(b"\r\n\r\n", 1)[-1]))
        c.ok(len(cut) == 1 and 0 < cut[0] < 60000, f"server_rst: aborted transfer bodies {cut}")
        c.ok(len(real_rsts) >= 6 and all(any(g.signature() == f.signature() for g in sf) for f in real_rsts),
             f"server_rst: {len(real_rsts)} RSTs, not all sent by the server")
    elif scen == "control_nat_rst":
        c.ok(not forged["server.pcap"], f"nat: forged frames at the server {sorted(forged['server.pcap'])}")
        fr = sorted(forged["client.pcap"])
        c.ok(len(fr) == 1 and [e["frames"] for e in mb] == [fr], f"nat: middlebox frames {fr} vs truth {mb}")
        if fr:
            f = cf[fr[0] - 1]
            fl = next(x for x in flows["client.pcap"] if f in x.frames)
            i = fl.frames.index(f)
            idle = fl.frames[i - 1].ts - fl.frames[i - 2].ts if i >= 2 else 0
            c.ok(f.tcp is not None and f.tcp.flags.R, "nat: the middlebox frame is not a RST")
            c.ok(f.ttl == 64 - 1, f"nat: RST TTL {f.ttl}, want 63 (sent by hop 2, one router before the client)")
            c.ok(idle >= 30 and fl.frames[i - 1].payload and f.ts - fl.frames[i - 1].ts < 0.05,
                 f"nat: the RST must answer the first segment after >= 30 s idle (idle {idle:.1f} s)")
            c.ok(b"HTTP/1.1 200" in b"".join(x.payload for x in fl.from_server()), "nat: no answer before the idle")
        c.ok(any(f.dst == L.NAT_OUTSIDE for f in sf) and not any(f.src == L.CLIENT for f in sf),
             "nat: the server does not see the client through the NAT")
        short = [fl for fl in cflows if sum(1 for f in fl.from_server() if f.payload.startswith(b"HTTP/1.1 200")) >= 2]
        c.ok(len(short) >= 1, "nat: the 5 s keep-alive pause did not get its second answer")
    elif scen == "control_cdn_rotation":
        c.ok(not mb and not any(forged.values()), "cdn: forged frames")
        dns = [fl for fl in flows["client.pcap"] if fl.proto == "udp" and fl.target == {"qname": "cdn.example"}]
        answers = [fl.from_server() for fl in dns]
        c.ok(len(dns) >= 5 and all(len(a) == 1 for a in answers), f"cdn: {len(dns)} cdn.example queries, "
                                                                   f"answers per query {[len(a) for a in answers]}")
        sets = {tuple(L.dns_answers(a[0])) for a in answers if a}
        ttls = {a[0].pkt[DNS].an[0].ttl for a in answers if a and a[0].pkt[DNS].ancount}
        ids = {a[0].pkt[DNS].id for a in answers if a}
        c.ok(len(sets) >= 3 and len(ttls) >= 3 and len(ids) == len(dns), f"cdn: {len(sets)} answer sets, "
                                                                           f"{len(ttls)} TTLs, {len(ids)} IDs")
        edges = {fl.key[3] for fl in cflows if fl.target == {"host": "cdn.example"} and control_flow_ok(fl, fl.target)}
        c.ok(len(edges) >= 3, f"cdn: pages fetched from {sorted(edges)}")
    elif scen == "control_retransmissions_tls13":
        c.ok(not mb and not any(forged.values()), "retransmissions: forged frames")
        retx = dup = ooo = 0
        for fl in cflows:
            seen, top = {}, None
            for f in fl.from_server():
                if not f.payload:
                    continue
                k = (f.tcp.seq, len(f.payload))
                if k in seen:
                    retx += 1
                    dup += f.pkt[IP].id == seen[k] if IP in f.pkt else 0
                elif top is not None and (f.tcp.seq - top) % 2**32 > 2**31:
                    ooo += 1
                seen.setdefault(k, f.pkt[IP].id if IP in f.pkt else None)
                end = (f.tcp.seq + len(f.payload)) % 2**32
                top = end if top is None or (end - top) % 2**32 < 2**31 else top
        syns = [f for f in cf if f.tcp is not None and f.tcp.flags.S and not f.tcp.flags.A]
        c.ok(retx >= 6 and dup >= 2 and ooo >= 4, f"retransmissions: {retx} repeated server segments "
                                                   f"({dup} byte-identical duplicates), {ooo} out of order")
        c.ok(len({f.tcp.sport for f in syns}) < len(syns), "retransmissions: no SYN was retransmitted")
        tls = [fl for fl in cflows if "sni" in fl.target]
        vers = [first_app_record_version(next((f.payload for f in fl.from_server() if f.payload), b"")) for fl in tls]
        c.ok(len(tls) == 2 and vers == [0x0304, 0x0304], f"retransmissions: TLS versions {vers}")
        full = [fl for fl in cflows if "host" in fl.target and control_flow_ok(fl, fl.target)]
        c.ok(len(full) == 2, f"retransmissions: {len(full)} complete HTTP downloads")


def main():
    args = sys.argv[1:]
    record = None
    if "--record" in args:
        i = args.index("--record")
        record = args[i + 1]
        del args[i:i + 2]
    dirs = []
    for d in args:
        if os.path.exists(os.path.join(d, "truth.json")):
            dirs.append(d)
        else:
            dirs += sorted(os.path.join(d, x) for x in os.listdir(d)
                           if os.path.exists(os.path.join(d, x, "truth.json")))
    if not dirs:
        print("verify: no truth.json found", file=sys.stderr)
        return 2
    failed, rows = 0, []
    for d in dirs:
        c, total = verify_scenario(d)
        status = "PASS" if not c.errors else "FAIL"
        failed += bool(c.errors)
        print(f"{status} {c.name:20s} frames={total:4d} checks={c.n}")
        for e in c.errors:
            print(f"     - {e}")
        rows.append({"scenario": c.name, "result": status, "frames": total, "checks": c.n, "errors": c.errors})
    print(f"verify: {len(dirs) - failed}/{len(dirs)} scenarios pass")
    if record:
        with open(record, "w") as fh:
            json.dump(rows, fh, indent=1)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

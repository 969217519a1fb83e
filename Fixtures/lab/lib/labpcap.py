"""Shared capture reading for annotate.py, verify.py and compare.py (scapy, Debian's /usr/bin/python3).

Frame numbers are 1-based like Wireshark's. A "forged" frame is one that arrived at a vantage point claiming to come
from the peer, but that the peer never sent: it is absent from the peer-side capture (matched on addresses, ports,
IP ID, TCP seq/ack/flags and payload; TTL and checksums are ignored because routers change them).
"""
import struct
from scapy.all import rdpcap, IP, IPv6, TCP, UDP, ICMP, DNS, Raw  # noqa
from scapy.layers.inet import IPerror, TCPerror, UDPerror  # noqa

CLIENT = "10.77.0.2"
CLIENT2 = "10.77.20.2"
CLIENT_V6 = "fd77::2"
CLIENT2_V6 = "fd77:20::2"
SERVER = "10.77.9.2"
SERVER_V6 = "fd77:9::2"
CLIENTS = {CLIENT, CLIENT_V6}
CLIENTS2 = {CLIENT2, CLIENT2_V6}
SERVER_ADDRS = {"10.77.9.2", "10.77.9.53", "10.77.9.66", "10.77.9.67", "fd77:9::2", "fd77:9::53",
                # negative controls: rotating DNS server, resetting HTTP server, CDN edges
                "10.77.9.54", "10.77.9.70", "10.77.9.80", "10.77.9.81", "10.77.9.82", "10.77.9.83"}
NAT_OUTSIDE = "10.77.2.2"   # control_nat_rst: the client's flows leave the NAT on hop 2 with this address
NROUTERS = 5
HOPS = [{"index": k, "router": f"10.77.{k - 1}.1"} for k in range(1, NROUTERS + 1)]
HOPS_V6 = [{"index": k, "router": f"fd77:{k - 1}::1" if k > 1 else "fd77::1"} for k in range(1, NROUTERS + 1)]
HOPS2 = [{"index": 1, "router": "10.77.20.1"}, {"index": 2, "router": "10.77.21.1"},
         {"index": 3, "router": "10.77.22.1"}]
SERVER_TTL = 64


class Frame:
    __slots__ = ("no", "ts", "pkt", "ip", "l4", "src", "dst", "ttl")

    def __init__(self, no, pkt):
        self.no, self.pkt, self.ts = no, pkt, float(pkt.time)
        self.ip = pkt[IP] if IP in pkt else (pkt[IPv6] if IPv6 in pkt else None)
        self.l4 = None
        self.src = self.dst = None
        self.ttl = None
        if self.ip is not None:
            self.src, self.dst = self.ip.src, self.ip.dst
            self.ttl = self.ip.ttl if IP in pkt else self.ip.hlim
            for layer in (TCP, UDP):
                if layer in pkt and not isinstance(pkt[layer], (TCPerror, UDPerror)):
                    self.l4 = pkt[layer]
                    break

    @property
    def proto(self):
        if self.l4 is None:
            return "icmp" if (ICMP in self.pkt or (self.ip is not None and self.ip.name == "IPv6")) else "other"
        return "tcp" if isinstance(self.l4, TCP) else "udp"

    @property
    def tcp(self):
        return self.l4 if isinstance(self.l4, TCP) else None

    @property
    def payload(self):
        if self.l4 is None:
            return b""
        return bytes(self.l4.payload) if not isinstance(self.l4.payload, Raw) else self.l4.payload.load

    def flags(self):
        t = self.tcp
        return str(t.flags) if t is not None else ""

    def signature(self, alias=None):
        """What identifies this packet on both sides of the routed path (no TTL, no checksums). alias maps addresses
        as a NAT on the path rewrote them (ports are kept: MASQUERADE keeps a free source port)."""
        ipid = self.ip.id if IP in self.pkt else None
        src, dst = self.src, self.dst
        if alias:
            src, dst = alias.get(src, src), alias.get(dst, dst)
        if self.tcp is not None:
            t = self.tcp
            return ("tcp", src, dst, ipid, t.sport, t.dport, t.seq, t.ack, int(t.flags), self.payload)
        if self.l4 is not None:
            return ("udp", src, dst, ipid, self.l4.sport, self.l4.dport, self.payload)
        return ("ip", src, dst, ipid, bytes(self.ip.payload))


def load(path):
    return [Frame(i + 1, p) for i, p in enumerate(rdpcap(path))]


def addr_port(a, p):
    return f"[{a}]:{p}" if ":" in a else f"{a}:{p}"


def flow_key(f):
    """(proto, client addr, client port, server addr, server port) for TCP/UDP, and for ICMP errors the quoted flow."""
    if f.ip is None:
        return None
    if f.l4 is not None:
        sp, dp = f.l4.sport, f.l4.dport
        proto = f.proto
        if f.src in SERVER_ADDRS and f.dst not in SERVER_ADDRS:
            return (proto, f.dst, dp, f.src, sp)
        if f.dst in SERVER_ADDRS:
            return (proto, f.src, sp, f.dst, dp)
        # proxy upstream connections or other: lower port is the server side
        return (proto, f.src, sp, f.dst, dp) if dp < sp else (proto, f.dst, dp, f.src, sp)
    q = quoted(f)
    if q is not None:
        return q
    return None


def quoted(f):
    """Flow key of the packet an ICMPv4 error quotes (the quoted packet went client -> server)."""
    if ICMP in f.pkt and IPerror in f.pkt:
        qi = f.pkt[IPerror]
        for layer, name in ((TCPerror, "tcp"), (UDPerror, "udp")):
            if layer in f.pkt:
                ql = f.pkt[layer]
                return (name, qi.src, ql.sport, qi.dst, ql.dport)
    return None


def icmp_info(f):
    if ICMP in f.pkt:
        return (int(f.pkt[ICMP].type), int(f.pkt[ICMP].code))
    return None


def parse_sni(data):
    """SNI of a TLS ClientHello at the start of data (RFC 8446 4.1.2, RFC 6066 3), None if absent or cut short."""
    try:
        if len(data) < 5 or data[0] != 22:
            return None
        hs = data[5:]
        if hs[0] != 1:
            return None
        p = 4 + 2 + 32
        p += 1 + hs[p]
        p += 2 + struct.unpack(">H", hs[p:p + 2])[0]
        p += 1 + hs[p]
        ext_end = p + 2 + struct.unpack(">H", hs[p:p + 2])[0]
        p += 2
        while p + 4 <= ext_end:
            et, el = struct.unpack(">HH", hs[p:p + 4])
            if et == 0:
                lst = hs[p + 4:p + 4 + el]
                nl = struct.unpack(">H", lst[3:5])[0]
                return lst[5:5 + nl].decode("ascii", "replace")
            p += 4 + el
    except (IndexError, struct.error):
        return None
    return None


def http_host(data):
    if not data[:4] in (b"GET ", b"POST", b"HEAD"):
        return None
    for line in data.split(b"\r\n")[1:]:
        if line.lower().startswith(b"host:"):
            return line[5:].strip().decode("ascii", "replace").split(":")[0]
    return None


def dns_qname(f):
    if f.proto == "udp" and DNS in f.pkt:
        d = f.pkt[DNS]
        try:
            q = d.qd[0] if hasattr(d.qd, "__getitem__") else d.qd
            n = q.qname.decode() if isinstance(q.qname, bytes) else q.qname
            return n.rstrip(".")
        except (AttributeError, IndexError, TypeError):
            return None
    return None


def dns_answers(f):
    out = []
    if DNS in f.pkt:
        d = f.pkt[DNS]
        for i in range(d.ancount or 0):
            try:
                rr = d.an[i]
                out.append(str(rr.rdata))
            except (IndexError, TypeError):
                break
    return sorted(out)


class Flow:
    def __init__(self, key):
        self.key = key
        self.frames = []
        self.target = None

    @property
    def proto(self):
        return self.key[0]

    @property
    def client(self):
        return addr_port(self.key[1], self.key[2])

    @property
    def server(self):
        return addr_port(self.key[3], self.key[4])

    def from_server(self):
        return [f for f in self.frames if f.src == self.key[3] and f.l4 is not None]

    def from_client(self):
        return [f for f in self.frames if f.src == self.key[1] and f.l4 is not None]

    def server_payload(self, forged=()):
        return sum(len(f.payload) for f in self.from_server() if f.no not in forged)


def flows(frames):
    """Flows in capture order; a TCP flow is split when a new SYN reuses an old 4-tuple."""
    out, by_key = [], {}
    for f in frames:
        k = flow_key(f)
        if k is None:
            continue
        fl = by_key.get(k)
        t = f.tcp
        if fl is None or (t is not None and t.flags.S and not t.flags.A and fl.from_client()
                          and any(x.tcp is not None and x.tcp.flags.S and x.tcp.seq != t.seq for x in fl.from_client())):
            fl = Flow(k)
            by_key[k] = fl
            out.append(fl)
        fl.frames.append(f)
    for fl in out:
        fl.target = flow_target(fl)
    return out


def flow_target(fl):
    for f in fl.from_client():
        if fl.proto == "udp":
            q = dns_qname(f)
            if q:
                return {"qname": q}
        data = f.payload
        if not data:
            continue
        h = http_host(data)
        if h:
            return {"host": h}
        s = parse_sni(data)
        if s:
            return {"sni": s}
    return {"ip": fl.key[3]}


def forged_frames(frames, peer_frames, vantage_addrs, claimed_addrs, alias=None):
    """Frames that arrived at one of vantage_addrs claiming a source in claimed_addrs (the peer) that the
    peer-side capture never sent. alias translates the peer capture's addresses into this vantage's view (a NAT)."""
    sent = {f.signature(alias) for f in peer_frames if f.ip is not None}
    out = []
    for f in frames:
        if f.ip is None or f.dst not in vantage_addrs or f.src not in claimed_addrs:
            continue
        if f.l4 is None:
            continue          # ICMP errors from routers are judged separately
        if f.signature() not in sent:
            out.append(f.no)
    return out


def forged_by_capture(frames, vantages, scenario):
    """{capture: set of forged frame numbers} for every capture of a scenario ({capture: frames}, {capture: vantage}).
    In control_nat_rst the server sees the client as NAT_OUTSIDE, so signatures are translated across the NAT."""
    server_frames = frames.get("server.pcap", [])
    client_frames = [f for k, v in frames.items() if vantages[k] != "server" for f in v]
    nat = scenario == "control_nat_rst"
    out = {}
    for name, fr in frames.items():
        if vantages[name] == "server":
            claimed = CLIENTS | CLIENTS2 | ({NAT_OUTSIDE} if nat else set())
            out[name] = set(forged_frames(fr, client_frames, SERVER_ADDRS, claimed,
                                          {CLIENT: NAT_OUTSIDE} if nat else None))
        else:
            me = CLIENTS if vantages[name] == "client" else CLIENTS2
            out[name] = set(forged_frames(fr, server_frames, me, SERVER_ADDRS, {NAT_OUTSIDE: CLIENT} if nat else None))
    return out


def injected_kind(f):
    """A short, run-independent description of an injected frame (compare.py)."""
    if f.tcp is not None:
        k = "tcp:" + "".join(sorted(str(f.tcp.flags)))
        if f.payload:
            p = f.payload
            k += ":http" if p.startswith(b"HTTP/") else (":tls" if p[:1] == b"\x16" else ":data")
        return k
    if f.proto == "udp":
        return "udp:dns-answer" if DNS in f.pkt and f.pkt[DNS].qr == 1 else "udp"
    ic = icmp_info(f)
    if ic:
        return f"icmp:{ic[0]}/{ic[1]}"
    return "other"

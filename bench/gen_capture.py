#!/usr/bin/env python3
"""Deterministic synthetic capture for kzforensics benchmarks (kzforensics' own generator).

Writes a classic pcap (Ethernet, microsecond timestamps, little-endian) shaped like a tap on an access network:

  * thousands of TCP connections open at once, interleaved packet by packet: three-way handshakes with MSS, SACK-
    permitted, timestamps and window-scale options; HTTP/1.1 GET exchanges (keep-alive, several objects); TLS sessions
    opening with a ClientHello carrying SNI, ALPN and supported_versions, then a server flight and application data;
    bulk downloads acknowledged every second segment; FIN or RST closes; unanswered SYNs and refused ones;
  * DNS over UDP (A / AAAA queries and answers with compression pointers);
  * ICMP echo and traceroute-style time-exceeded messages that quote the probe;
  * about 12 % IPv6 connections, some 802.1Q VLAN and QinQ subscribers, and PPPoE sessions (some inside a VLAN).

Every IPv4 header, TCP, UDP and ICMP checksum is correct. Output depends only on --seed and --size.

Usage: gen_capture.py [--size 1G|200M|50M] [--seed N] [-o FILE]
"""
import argparse
import array
import random
import struct
import sys

PCAP_HEADER = struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1)
RECORD = struct.Struct('<IIII')
START = 1_735_700_000  # 2025-01-01 03:33:20 UTC

SYN, ACK, FIN, RST, PSH = 0x02, 0x10, 0x01, 0x04, 0x08


def parse_size(s):
    units = {'K': 1 << 10, 'M': 1 << 20, 'G': 1 << 30}
    s = s.strip().upper().rstrip('B').rstrip('I')
    if s and s[-1] in units:
        return int(float(s[:-1]) * units[s[-1]])
    return int(s)


# ----------------------------------------------------------------- checksums (RFC 1071)

def ones_sum(data, start=0):
    if len(data) & 1:
        data = data + b'\0'
    a = array.array('H', data)
    if sys.byteorder == 'little':
        a.byteswap()
    return start + sum(a)


def fold(s):
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff


# ----------------------------------------------------------------- layers

def ipv4_header(src, dst, proto, payload_len, ttl, ident, df=True):
    h = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + payload_len, ident, 0x4000 if df else 0, ttl, proto, 0, src, dst)
    return h[:10] + struct.pack('!H', fold(ones_sum(h))) + h[12:]


def ipv6_header(src, dst, nh, payload_len, hlim, flow):
    return struct.pack('!IHBB16s16s', (6 << 28) | flow, payload_len, nh, hlim, src, dst)


def pseudo_sum(src, dst, proto, length):
    return ones_sum(src + dst + struct.pack('!HH', proto, length))


def l4_with_checksum(src, dst, proto, seg, csum_at):
    c = fold(ones_sum(seg, pseudo_sum(src, dst, proto, len(seg))))
    if proto == 17 and c == 0:
        c = 0xffff
    return seg[:csum_at] + struct.pack('!H', c) + seg[csum_at + 2:]


class Link:
    """How a subscriber's frames are framed: plain Ethernet, 802.1Q, QinQ, PPPoE, or PPPoE inside a VLAN."""

    def __init__(self, rng, kind, index):
        self.kind = kind
        self.cmac = bytes([0x02, 0x10, (index >> 16) & 0xff, (index >> 8) & 0xff, index & 0xff, 0x01])
        self.gmac = bytes([0x00, 0x1b, 0x21, 0x3a, 0x4c, 0x5e])
        self.vlan = 100 + rng.randrange(400)
        self.svlan = 10 + rng.randrange(20)
        self.session = 1 + rng.randrange(0xfffe)

    def frame(self, to_client, v6, ip_packet):
        dst, src = (self.cmac, self.gmac) if to_client else (self.gmac, self.cmac)
        etype = 0x86dd if v6 else 0x0800
        k = self.kind
        if k == 'pppoe' or k == 'vlan-pppoe':
            ppp = struct.pack('!BBHHH', 0x11, 0, self.session, len(ip_packet) + 2, 0x0057 if v6 else 0x0021)
            inner = struct.pack('!H', 0x8864) + ppp + ip_packet
        else:
            inner = struct.pack('!H', etype) + ip_packet
        if k == 'vlan' or k == 'vlan-pppoe':
            inner = struct.pack('!HH', 0x8100, self.vlan) + inner
        elif k == 'qinq':
            inner = struct.pack('!HHH', 0x88a8, self.svlan, 0x8100) + struct.pack('!H', self.vlan) + inner
        return dst + src + inner


# ----------------------------------------------------------------- application payloads

WORDS = ('news mail cdn api static img video login shop bank gov market auth cloud chat maps music docs play '
         'store search wiki forum kz almaty astana portal media files live data app edu tv sport').split()
TLDS = ('kz', 'com', 'net', 'org', 'ru', 'io')


def make_names(rng, n):
    out = []
    for i in range(n):
        parts = [rng.choice(WORDS) for _ in range(rng.randrange(1, 3))]
        out.append('.'.join(parts) + str(i % 97) + '.' + rng.choice(TLDS))
    return out


def client_hello(rng, sni):
    def ext(t, body):
        return struct.pack('!HH', t, len(body)) + body
    name = sni.encode()
    exts = ext(0x0000, struct.pack('!HBH', len(name) + 3, 0, len(name)) + name)
    exts += ext(0x000a, b'\x00\x08\x00\x1d\x00\x17\x00\x18\x00\x19')
    exts += ext(0x000d, b'\x00\x08\x04\x03\x08\x04\x04\x01\x05\x03')
    exts += ext(0x0010, b'\x00\x0c\x02h2\x08http/1.1')
    exts += ext(0x002b, b'\x04\x03\x04\x03\x03')
    exts += ext(0x0033, b'\x00\x24\x00\x1d\x00\x20' + rng.randbytes(32))
    exts += ext(0x0015, bytes(rng.randrange(0, 200)))  # padding
    suites = b'\x13\x01\x13\x02\x13\x03\xc0\x2b\xc0\x2f\xc0\x2c\xc0\x30\xcc\xa9\xcc\xa8'
    body = (b'\x03\x03' + rng.randbytes(32) + b'\x20' +
            rng.randbytes(32) + struct.pack('!H', len(suites)) + suites + b'\x01\x00' +
            struct.pack('!H', len(exts)) + exts)
    hs = b'\x01' + struct.pack('!I', len(body))[1:] + body
    return b'\x16\x03\x01' + struct.pack('!H', len(hs)) + hs


def tls_record(ctype, body):
    """One or more TLS records (at most 2^14 bytes of body each, RFC 8446 §5.1)."""
    out = b''
    for i in range(0, max(len(body), 1), 16384):
        part = body[i:i + 16384]
        out += bytes([ctype]) + b'\x03\x03' + struct.pack('!H', len(part)) + part
    return out


def http_request(rng, host):
    path = '/' + '/'.join(rng.choice(WORDS) for _ in range(rng.randrange(1, 4)))
    if rng.random() < 0.5:
        path += '.' + rng.choice(('html', 'js', 'css', 'png', 'json'))
    return ('GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0\r\n'
            'Accept: */*\r\nAccept-Encoding: gzip, deflate\r\nConnection: keep-alive\r\n\r\n' % (path, host)).encode()


def http_response_header(rng, length):
    status = '200 OK' if length > 0 else rng.choice(('304 Not Modified', '404 Not Found'))
    return ('HTTP/1.1 %s\r\nServer: nginx\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: %d\r\n'
            'Cache-Control: max-age=600\r\n\r\n' % (status, length)).encode()


def dns_name(name):
    out = b''
    for label in name.split('.'):
        out += bytes([len(label)]) + label.encode()
    return out + b'\0'


# ----------------------------------------------------------------- the generator

class Generator:
    def __init__(self, seed, target, out):
        self.rng = random.Random(seed)
        self.target = target
        self.out = out
        self.written = len(PCAP_HEADER)
        self.packets = 0
        self.clock = 0.0
        self.pool = self.rng.randbytes(1 << 20)  # opaque bytes for bodies
        self.names = make_names(self.rng, 3000)
        self.links = []
        kinds = ['eth'] * 84 + ['vlan'] * 6 + ['qinq'] * 2 + ['pppoe'] * 6 + ['vlan-pppoe'] * 2
        for i in range(6000):
            self.links.append((Link(self.rng, self.rng.choice(kinds), i), self.client_addresses(i)))
        self.servers4 = [bytes([self.rng.choice((2, 5, 31, 37, 77, 91, 95, 104, 151, 185, 212)),
                                self.rng.randrange(256), self.rng.randrange(256), self.rng.randrange(1, 255)])
                         for _ in range(800)]
        self.servers6 = [b'\x2a\x00' + bytes(self.rng.getrandbits(8) for _ in range(14)) for _ in range(200)]
        self.resolver4 = bytes([10, 0, 0, 53])
        self.resolver6 = b'\xfd\x00' + bytes(12) + b'\x00\x53'
        self.active = []
        self.concurrency = 4000

    def client_addresses(self, i):
        v4 = bytes([10, 64 + (i >> 16), (i >> 8) & 0xff, (i & 0xff) or 1])
        v6 = b'\x2a\x05\x47\x40' + struct.pack('!I', i) + bytes(6) + struct.pack('!H', (i % 0xfffe) + 1)
        return v4, v6

    def emit(self, frame):
        self.clock += self.rng.expovariate(180_000.0)
        t = START + self.clock
        sec = int(t)
        usec = int((t - sec) * 1_000_000)
        self.out.write(RECORD.pack(sec, usec, len(frame), len(frame)))
        self.out.write(frame)
        self.written += 16 + len(frame)
        self.packets += 1

    def body(self, n):
        if n >= len(self.pool) // 2:
            return (self.pool * (n // len(self.pool) + 1))[:n]
        o = self.rng.randrange(0, len(self.pool) - n)
        return self.pool[o:o + n]

    # -- flow factories: each returns a Python generator that yields one frame per step

    def new_flow(self):
        r = self.rng.random()
        if r < 0.34:
            return self.tcp_flow('http')
        if r < 0.66:
            return self.tcp_flow('tls')
        if r < 0.74:
            return self.tcp_flow('bulk')
        if r < 0.77:
            return self.tcp_flow('refused')
        if r < 0.79:
            return self.tcp_flow('silent')
        if r < 0.97:
            return self.dns_flow()
        return self.icmp_flow()

    def endpoint(self):
        link, (c4, c6) = self.rng.choice(self.links)
        v6 = self.rng.random() < 0.12
        srv = self.rng.choice(self.servers6) if v6 else self.rng.choice(self.servers4)
        return link, v6, (c6 if v6 else c4), srv

    def ip(self, v6, src, dst, proto, seg, ttl, ident):
        if v6:
            return ipv6_header(src, dst, proto, len(seg), ttl, ident & 0xfffff) + seg
        return ipv4_header(src, dst, proto, len(seg), ttl, ident & 0xffff) + seg

    def tcp_flow(self, kind):
        rng = self.rng
        link, v6, cli, srv = self.endpoint()
        sport = rng.randrange(32768, 61000)
        dport = 443 if kind == 'tls' else 80
        cseq, sseq = rng.getrandbits(32), rng.getrandbits(32)
        cttl, sttl = 64, rng.choice((52, 54, 56, 57, 58, 116, 118))
        cid, sid = rng.getrandbits(16), rng.getrandbits(16)
        mss = 1440 if v6 else (1452 if 'pppoe' in link.kind else 1460)
        mss_eff = mss - 12  # timestamps on every segment
        ts_c, ts_s = rng.getrandbits(32), rng.getrandbits(32)
        host = rng.choice(self.names)
        st = {'c': cseq, 's': sseq, 'cid': cid, 'sid': sid, 'tc': ts_c, 'ts': ts_s}

        def seg(from_client, flags, payload=b'', syn_opts=False):
            if from_client:
                src, dst, sp, dp, seq, ack, ttl = cli, srv, sport, dport, st['c'], st['s'], cttl
                st['cid'] += 1
                ident = st['cid']
                st['tc'] += 1
                tsv, tse = st['tc'], st['ts']
                win = 502
            else:
                src, dst, sp, dp, seq, ack, ttl = srv, cli, dport, sport, st['s'], st['c'], sttl
                st['sid'] += 1
                ident = st['sid']
                tsv, tse = st['ts'], st['tc']
                win = 509
            if syn_opts:
                opts = struct.pack('!BBH', 2, 4, mss) + b'\x04\x02' + struct.pack('!BBII', 8, 10, tsv, tse) + b'\x01\x03\x03\x07'
                win = 64240 if from_client else 65160
            else:
                opts = b'\x01\x01' + struct.pack('!BBII', 8, 10, tsv, 0 if flags == SYN else tse)
            hl = 20 + len(opts)
            h = struct.pack('!HHIIBBHHH', sp, dp, seq & 0xffffffff, (ack if flags & ACK else 0) & 0xffffffff,
                            (hl // 4) << 4, flags, win, 0, 0) + opts + payload
            h = l4_with_checksum(src, dst, 6, h, 16)
            adv = len(payload) + (1 if flags & (SYN | FIN) else 0)
            if from_client:
                st['c'] += adv
            else:
                st['s'] += adv
            return link.frame(not from_client, v6, self.ip(v6, src, dst, 6, h, ttl, ident))

        def data(from_client, blob):
            """Segments `blob` at the effective MSS; the receiver ACKs every second segment."""
            n = 0
            for i in range(0, len(blob), mss_eff):
                chunk = blob[i:i + mss_eff]
                last = i + mss_eff >= len(blob)
                yield seg(from_client, ACK | (PSH if last else 0), chunk)
                n += 1
                if n % 2 == 0 or last:
                    yield seg(not from_client, ACK)

        # handshake
        yield seg(True, SYN, syn_opts=True)
        if kind == 'silent':
            yield seg(True, SYN, syn_opts=True)  # retransmitted, never answered
            return
        if kind == 'refused':
            yield seg(False, RST | ACK)
            return
        yield seg(False, SYN | ACK, syn_opts=True)
        yield seg(True, ACK)
        if kind == 'http':
            for _ in range(rng.randrange(1, 5)):
                yield from data(True, http_request(rng, host))
                size = int(rng.paretovariate(1.3) * 900) % 400_000
                yield from data(False, http_response_header(rng, size) + self.body(size))
        elif kind == 'tls':
            yield from data(True, client_hello(rng, host))
            flight = tls_record(0x16, self.body(rng.randrange(2500, 5200))) + tls_record(0x14, b'\x01')
            yield from data(False, flight)
            yield from data(True, tls_record(0x14, b'\x01') + tls_record(0x17, self.body(rng.randrange(40, 90))))
            for _ in range(rng.randrange(1, 6)):
                yield from data(True, tls_record(0x17, self.body(rng.randrange(60, 900))))
                yield from data(False, tls_record(0x17, self.body(int(rng.paretovariate(1.2) * 2000) % 300_000)))
        else:  # bulk
            yield from data(True, http_request(rng, host))
            size = rng.randrange(500_000, 4_000_000)
            yield from data(False, http_response_header(rng, size) + self.body(size))
        if rng.random() < 0.15:
            yield seg(True, RST | ACK)
            return
        yield seg(True, FIN | ACK)
        yield seg(False, FIN | ACK)
        yield seg(True, ACK)

    def dns_flow(self):
        rng = self.rng
        link, v6, cli, _ = self.endpoint()
        res = self.resolver6 if v6 else self.resolver4
        sport = rng.randrange(1024, 65535)
        qid = rng.getrandbits(16)
        name = rng.choice(self.names)
        qtype = 28 if rng.random() < 0.3 else 1
        question = dns_name(name) + struct.pack('!HH', qtype, 1)
        query = struct.pack('!HHHHHH', qid, 0x0100, 1, 0, 0, 1) + question + b'\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00'
        answers = b''
        n = rng.randrange(1, 4)
        for _ in range(n):
            rdata = rng.randbytes(16 if qtype == 28 else 4)
            answers += b'\xc0\x0c' + struct.pack('!HHIH', qtype, 1, rng.randrange(30, 3600), len(rdata)) + rdata
        resp = struct.pack('!HHHHHH', qid, 0x8180, 1, n, 0, 0) + question + answers

        def udp(from_client, payload, ident):
            src, dst, sp, dp = (cli, res, sport, 53) if from_client else (res, cli, 53, sport)
            u = struct.pack('!HHHH', sp, dp, 8 + len(payload), 0) + payload
            u = l4_with_checksum(src, dst, 17, u, 6)
            return link.frame(not from_client, v6, self.ip(v6, src, dst, 17, u, 64, ident))
        yield udp(True, query, rng.getrandbits(16))
        yield udp(False, resp, rng.getrandbits(16))

    def icmp_flow(self):
        rng = self.rng
        link, v6, cli, srv = self.endpoint()
        if v6:
            ident = rng.getrandbits(16)
            for seq in range(rng.randrange(1, 5)):
                for (src, dst, t) in ((cli, srv, 128), (srv, cli, 129)):
                    m = struct.pack('!BBHHH', t, 0, 0, ident, seq) + self.body(56)
                    m = l4_with_checksum(src, dst, 58, m, 2)
                    yield link.frame(t == 129, True, ipv6_header(src, dst, 58, len(m), 64, 0) + m)
            return
        if rng.random() < 0.5:
            ident = rng.getrandbits(16)
            for seq in range(rng.randrange(1, 5)):
                for (src, dst, t) in ((cli, srv, 8), (srv, cli, 0)):
                    m = struct.pack('!BBHHH', t, 0, 0, ident, seq) + self.body(56)
                    m = m[:2] + struct.pack('!H', fold(ones_sum(m))) + m[4:]
                    yield link.frame(t == 0, False, ipv4_header(src, dst, 1, len(m), 64, rng.getrandbits(16)) + m)
            return
        # traceroute: UDP probes with rising TTL, each answered by a router's time-exceeded quoting the probe
        dport = 33434
        for ttl in range(1, rng.randrange(4, 12)):
            payload = bytes(32)
            u = l4_with_checksum(cli, srv, 17, struct.pack('!HHHH', 50000 + ttl, dport + ttl, 40, 0) + payload, 6)
            probe = ipv4_header(cli, srv, 17, len(u), ttl, rng.getrandbits(16), df=False) + u
            yield link.frame(False, False, probe)
            router = bytes([10 if ttl == 1 else 95, 56, ttl, 1])
            m = struct.pack('!BBHI', 11, 0, 0, 0) + probe[:28]
            m = m[:2] + struct.pack('!H', fold(ones_sum(m))) + m[4:]
            yield link.frame(True, False, ipv4_header(router, cli, 1, len(m), 255 - ttl, rng.getrandbits(16), df=False) + m)

    def run(self):
        self.out.write(PCAP_HEADER)
        rng = self.rng
        active = [self.new_flow() for _ in range(self.concurrency)]
        while self.written < self.target:
            i = rng.randrange(len(active))
            try:
                self.emit(next(active[i]))
            except StopIteration:
                active[i] = self.new_flow()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--size', default='200M', help='target size, e.g. 50M, 200M (default), 1G, 3G')
    ap.add_argument('--seed', type=int, default=2025)
    ap.add_argument('-o', '--output', help='output file (default /tmp/kz-bench-<size>-<seed>.pcap)')
    a = ap.parse_args()
    path = a.output or '/tmp/kz-bench-%s-%d.pcap' % (a.size, a.seed)
    with open(path, 'wb', buffering=1 << 22) as f:
        g = Generator(a.seed, parse_size(a.size), f)
        g.run()
    print('%s: %d packets, %d bytes, seed %d' % (path, g.packets, g.written, a.seed), file=sys.stderr)


if __name__ == '__main__':
    main()

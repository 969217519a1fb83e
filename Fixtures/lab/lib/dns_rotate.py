#!/usr/bin/python3
"""An authoritative DNS server that answers like a CDN: each query for a name gets the next answer of a rotation.

  dns_rotate.py --addr 10.77.9.54 --zone cdn.example=10.77.9.80,10.77.9.81,10.77.9.82,10.77.9.83 \
                --zone multi.cdn.example=10.77.9.80+10.77.9.81,10.77.9.82+10.77.9.83 --ttls 20,300,60,5

Answer k of a name is its k-th address set (modulo the list; `+` joins addresses of one answer), with the k-th answer
TTL of --ttls: repeated queries for one name get different A records and different TTLs, as from a load-balanced
CDN or a GeoDNS front end. One UDP socket; the messages are built by hand (RFC 1035 §4.1): the question is echoed,
answers use a compression pointer to it, AA is set. Anything else gets NXDOMAIN; non-A questions get NOERROR/no data.
"""
import argparse, socket, struct, sys


def qname_end(msg, off):
    while off < len(msg):
        n = msg[off]
        if n == 0:
            return off + 1
        if n & 0xC0:
            return None
        off += 1 + n
    return None


def labels(msg, off, end):
    out, p = [], off
    while p < end - 1:
        n = msg[p]
        out.append(msg[p + 1:p + 1 + n].decode("ascii", "replace"))
        p += 1 + n
    return ".".join(out).lower()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--addr", required=True)
    ap.add_argument("--zone", action="append", required=True, help="name=set,set,... (a set is a+b+c)")
    ap.add_argument("--ttls", default="300")
    args = ap.parse_args()
    zones = {}
    for z in args.zone:
        name, sets = z.split("=", 1)
        zones[name.lower().rstrip(".")] = [s.split("+") for s in sets.split(",")]
    ttls = [int(x) for x in args.ttls.split(",")]
    turn = {n: 0 for n in zones}
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((args.addr, 53))
    print("dns_rotate ready", flush=True)
    while True:
        msg, peer = s.recvfrom(4096)
        if len(msg) < 12:
            continue
        qid, flags, qd = struct.unpack(">HHH", msg[:6])
        if flags & 0x8000 or qd != 1:
            continue
        end = qname_end(msg, 12)
        if end is None or end + 4 > len(msg):
            continue
        qtype, qclass = struct.unpack(">HH", msg[end:end + 4])
        name = labels(msg, 12, end)
        question = msg[12:end + 4]
        rd = flags & 0x0100
        answers = b""
        ancount, rcode = 0, 0
        if name not in zones:
            rcode = 3
        elif qtype == 1 and qclass == 1:
            k = turn[name]
            turn[name] += 1
            addrs = zones[name][k % len(zones[name])]
            ttl = ttls[k % len(ttls)]
            for a in addrs:
                answers += struct.pack(">HHHIH", 0xC00C, 1, 1, ttl, 4) + socket.inet_aton(a)
                ancount += 1
            sys.stderr.write(f"{peer[0]} id {qid} {name} answer {k}: {addrs} ttl {ttl}\n")
        hdr = struct.pack(">HHHHHH", qid, 0x8000 | 0x0400 | rd | rcode, 1, ancount, 0, 0)
        s.sendto(hdr + question + answers, peer)


if __name__ == "__main__":
    main()

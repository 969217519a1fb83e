#!/usr/bin/python3
"""An ordinary lossy link on one router: drops, reorders and duplicates TCP segments of an NFQUEUE (lib/nfqueue.py).

This kernel has no netem, so the impairment is done in user space, deterministically (a count, not a random draw),
so every run damages the same segments:
  - data segments are numbered per direction in the order their *first* transmission passes; retransmissions of an
    already seen (addresses, ports, seq, length) always pass, so every loss is repaired by the endpoints' own TCP;
  - server->client data: segment n with n % --every == --drop-at is dropped, == --hold-at is held --hold-ms while
    later segments pass (reordering), == --dup-at is passed and sent a second time, byte for byte, through a raw
    socket (a duplicate);
  - client->server: the first transmission of the first data segment of every --drop-request-every-th connection
    is dropped (the request or ClientHello is retransmitted), and the first SYN of connection number --drop-syn is
    dropped (the SYN is retransmitted after the initial RTO).
The queue is hooked in mangle FORWARD, after the router's TTL decrement, so a duplicate equals the forwarded packet.
Every action is logged as one JSON line to --log.
"""
import argparse, heapq, json, os, select, signal, socket, struct, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nfqueue import NfQueue, NF_ACCEPT, NF_DROP, COPY_PACKET  # noqa: E402


def parse(raw):
    """(src, dst, sport, dport, seq, flags, payload length) of an IPv4 TCP packet, or None."""
    if len(raw) < 20 or raw[0] >> 4 != 4 or raw[9] != 6:
        return None
    ihl = (raw[0] & 15) * 4
    total = struct.unpack(">H", raw[2:4])[0]
    if len(raw) < ihl + 20:
        return None
    sport, dport, seq = struct.unpack(">HHI", raw[ihl:ihl + 8])
    doff = (raw[ihl + 12] >> 4) * 4
    flags = raw[ihl + 13]
    return socket.inet_ntoa(raw[12:16]), socket.inet_ntoa(raw[16:20]), sport, dport, seq, flags, total - ihl - doff


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--queue", type=int, required=True)
    ap.add_argument("--server-port", type=int, action="append", required=True, help="ports that mark the server side")
    ap.add_argument("--every", type=int, default=12)
    ap.add_argument("--drop-at", type=int, default=4)
    ap.add_argument("--hold-at", type=int, default=8)
    ap.add_argument("--dup-at", type=int, default=10)
    ap.add_argument("--hold-ms", type=float, default=25)
    ap.add_argument("--drop-request-every", type=int, default=2)
    ap.add_argument("--drop-syn", type=int, default=3, help="connection number (1-based) whose first SYN is lost")
    ap.add_argument("--log", required=True)
    args = ap.parse_args()
    q = NfQueue(args.queue, COPY_PACKET)
    raw_out = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    log = open(args.log, "a", buffering=1)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    seen = set()           # first transmissions already numbered
    conns = {}             # client 4-tuple -> connection number
    requested = set()      # connections whose first client data segment was seen
    count = {"s2c": 0}
    held = []              # (release time, packet id)

    def note(what, p, **kw):
        log.write(json.dumps(dict(t=time.time(), what=what, src=f"{p[0]}:{p[2]}", dst=f"{p[1]}:{p[3]}", seq=p[4],
                                  len=p[6], **kw)) + "\n")

    print(f"nfq_impair: queue {args.queue} ready", flush=True)
    while True:
        timeout = max(0.0, held[0][0] - time.monotonic()) if held else 1.0
        r, _, _ = select.select([q], [], [], timeout)
        if r:
            for pid, raw in q.recv():
                verdict = NF_ACCEPT
                p = parse(raw)
                if p is None:
                    q.verdict(pid, verdict)
                    continue
                src, dst, sport, dport, seq, flags, plen = p
                to_server = dport in args.server_port
                ckey = (src, sport, dst, dport) if to_server else (dst, dport, src, sport)
                syn, ack = flags & 0x02, flags & 0x10
                if to_server and syn and not ack and ckey not in conns:
                    conns[ckey] = len(conns) + 1
                    if conns[ckey] == args.drop_syn:
                        verdict = NF_DROP
                        note("drop-syn", p, conn=conns[ckey])
                elif plen > 0 and (src, sport, dst, dport, seq, plen) not in seen:
                    seen.add((src, sport, dst, dport, seq, plen))
                    n = conns.get(ckey, 0)
                    if to_server:
                        if ckey not in requested:
                            requested.add(ckey)
                            if n and n % args.drop_request_every == 0:
                                verdict = NF_DROP
                                note("drop-request", p, conn=n)
                    else:
                        count["s2c"] += 1
                        k = count["s2c"] % args.every
                        if k == args.drop_at:
                            verdict = NF_DROP
                            note("drop", p, conn=n, n=count["s2c"])
                        elif k == args.hold_at:
                            heapq.heappush(held, (time.monotonic() + args.hold_ms / 1000.0, pid))
                            note("hold", p, conn=n, n=count["s2c"], ms=args.hold_ms)
                            verdict = None
                        elif k == args.dup_at:
                            raw_out.sendto(raw, (dst, 0))
                            note("duplicate", p, conn=n, n=count["s2c"])
                if verdict is not None:
                    q.verdict(pid, verdict)
        now = time.monotonic()
        while held and held[0][0] <= now:
            q.verdict(heapq.heappop(held)[1], NF_ACCEPT)


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Minimal nfnetlink_queue client over a raw netlink socket (no libnetfilter_queue binding needed).

Holds every packet of one NFQUEUE for --delay-ms, then accepts it. Used to give a server a real network
latency for one kind of traffic (e.g. DNS answers), because this kernel has no netem.

Protocol (include/uapi/linux/netfilter/nfnetlink_queue.h): messages are nlmsghdr + nfgenmsg + attributes;
type = NFNL_SUBSYS_QUEUE(3) << 8 | msg, with NFQNL_MSG_PACKET=0, VERDICT=1, CONFIG=2.
"""
import argparse, heapq, os, select, signal, socket, struct, sys, time

NETLINK_NETFILTER = 12
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET, NFQNL_MSG_VERDICT, NFQNL_MSG_CONFIG = 0, 1, 2
NFQA_CFG_CMD, NFQA_CFG_PARAMS = 1, 2
NFQNL_CFG_CMD_BIND = 1
NFQNL_COPY_META = 1
NFQA_PACKET_HDR, NFQA_VERDICT_HDR = 1, 2
NF_DROP, NF_ACCEPT = 0, 1
NLM_F_REQUEST, NLM_F_ACK = 1, 4
NLMSG_ERROR = 2


def attr(atype, payload):
    ln = 4 + len(payload)
    return struct.pack("=HH", ln, atype) + payload + b"\0" * ((4 - ln % 4) % 4)


def message(mtype, queue, attrs, flags=NLM_F_REQUEST, family=socket.AF_UNSPEC, seq=0):
    body = struct.pack("=BBH", family, 0, socket.htons(queue)) + attrs
    return struct.pack("=IHHII", 16 + len(body), (NFNL_SUBSYS_QUEUE << 8) | mtype, flags, seq, 0) + body


def parse_attrs(data):
    out, off = {}, 0
    while off + 4 <= len(data):
        ln, at = struct.unpack_from("=HH", data, off)
        if ln < 4:
            break
        out[at & 0x7FFF] = data[off + 4: off + ln]
        off += (ln + 3) & ~3
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--queue", type=int, required=True)
    ap.add_argument("--delay-ms", type=float, required=True)
    args = ap.parse_args()
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
    s.bind((0, 0))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    cmd = struct.pack("=BBH", NFQNL_CFG_CMD_BIND, 0, socket.htons(socket.AF_INET))
    s.send(message(NFQNL_MSG_CONFIG, args.queue, attr(NFQA_CFG_CMD, cmd), NLM_F_REQUEST | NLM_F_ACK, seq=1))
    params = struct.pack(">IB", 0xFFFF, NFQNL_COPY_META)
    s.send(message(NFQNL_MSG_CONFIG, args.queue, attr(NFQA_CFG_PARAMS, params), NLM_F_REQUEST | NLM_F_ACK, seq=2))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    pending = []  # (release_time, packet_id)
    print(f"nfq_delay: queue {args.queue} delay {args.delay_ms} ms ready", flush=True)
    while True:
        timeout = max(0.0, pending[0][0] - time.monotonic()) if pending else 1.0
        r, _, _ = select.select([s], [], [], timeout)
        if r:
            data = s.recv(1 << 16)
            off = 0
            while off + 16 <= len(data):
                ln, mtype, _flags, _seq, _pid = struct.unpack_from("=IHHII", data, off)
                if ln < 16:
                    break
                if mtype == NLMSG_ERROR:
                    err = struct.unpack_from("=i", data, off + 16)[0]
                    if err != 0:
                        print(f"nfq_delay: netlink error {err}", file=sys.stderr, flush=True)
                        sys.exit(1)
                elif mtype == (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET:
                    attrs = parse_attrs(data[off + 20: off + ln])
                    hdr = attrs.get(NFQA_PACKET_HDR)
                    if hdr and len(hdr) >= 4:
                        pid = struct.unpack(">I", hdr[:4])[0]
                        heapq.heappush(pending, (time.monotonic() + args.delay_ms / 1000.0, pid))
                off += (ln + 3) & ~3
        now = time.monotonic()
        while pending and pending[0][0] <= now:
            _, pid = heapq.heappop(pending)
            v = attr(NFQA_VERDICT_HDR, struct.pack(">II", NF_ACCEPT, pid))
            s.send(message(NFQNL_MSG_VERDICT, args.queue, v))


if __name__ == "__main__":
    main()

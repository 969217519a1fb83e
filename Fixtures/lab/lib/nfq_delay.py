#!/usr/bin/python3
"""Holds every packet of one NFQUEUE for --delay-ms, then accepts it (lib/nfqueue.py, raw netlink).

Gives a server a real network latency for one kind of traffic (DNS answers), because this kernel has no netem.
"""
import argparse, heapq, os, select, signal, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nfqueue import NfQueue, NF_ACCEPT, COPY_META  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--queue", type=int, required=True)
    ap.add_argument("--delay-ms", type=float, required=True)
    args = ap.parse_args()
    q = NfQueue(args.queue, COPY_META)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    pending = []
    print(f"nfq_delay: queue {args.queue} delay {args.delay_ms} ms ready", flush=True)
    while True:
        timeout = max(0.0, pending[0][0] - time.monotonic()) if pending else 1.0
        r, _, _ = select.select([q], [], [], timeout)
        if r:
            for pid, _ in q.recv():
                heapq.heappush(pending, (time.monotonic() + args.delay_ms / 1000.0, pid))
        now = time.monotonic()
        while pending and pending[0][0] <= now:
            q.verdict(heapq.heappop(pending)[1], NF_ACCEPT)


if __name__ == "__main__":
    main()

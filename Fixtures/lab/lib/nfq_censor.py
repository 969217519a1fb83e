#!/usr/bin/python3
"""In-path censor on an NFQUEUE hooked in raw PREROUTING (before the router's TTL check and routing).

A queued TCP packet whose payload contains one of the --match strings is dropped (verdict NF_DROP) and the client
gets a forged RST+ACK from the server's address with IP TTL --ttl. Everything else is accepted. Because the hook
runs before ip_forward's TTL check, a probe with TTL = hop already triggers it, and no ICMP time-exceeded comes back
for it (the packet never reaches the check).
"""
import argparse, json, os, random, select, signal, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nfqueue import NfQueue, NF_ACCEPT, NF_DROP, COPY_PACKET  # noqa: E402
from scapy.all import conf, IP, TCP  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--queue", type=int, required=True)
    ap.add_argument("--match", action="append", required=True)
    ap.add_argument("--ttl", type=int, required=True)
    ap.add_argument("--log", required=True)
    args = ap.parse_args()
    matches = [m.encode() for m in args.match]
    q = NfQueue(args.queue, COPY_PACKET)
    sock = conf.L3socket()
    log = open(args.log, "a", buffering=1)
    rnd = random.Random()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"nfq_censor: queue {args.queue} ready", flush=True)
    while True:
        select.select([q], [], [], 1.0)
        for pid, raw in q.recv():
            verdict = NF_ACCEPT
            try:
                p = IP(raw)
                if TCP in p and any(m in bytes(p[TCP].payload) for m in matches):
                    t = p[TCP]
                    end = t.seq + len(bytes(t.payload))
                    rst = IP(src=p.dst, dst=p.src, ttl=args.ttl, id=rnd.randrange(1, 65535)) / TCP(
                        sport=t.dport, dport=t.sport, flags="RA", seq=t.ack, ack=end, window=0)
                    sock.send(rst)
                    verdict = NF_DROP
                    log.write(json.dumps({"t": time.time(), "what": "rst-to-client", "src": rst.src, "dst": rst.dst,
                                          "probe_ttl": p.ttl, "seq": t.ack}) + "\n")
            except Exception as e:  # a packet scapy cannot parse is passed on, never lost
                sys.stderr.write(f"nfq_censor: {e}\n")
            q.verdict(pid, verdict)


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""On-path censor: sniffs the client-facing interface of the censor router with AF_PACKET (scapy) and races
forged packets while the original packet still passes (it is never dropped here).

modes:
  rst        forged RST+ACK to the client (claiming the server) and RST to the server (claiming the client)
             when a TCP payload toward port 80/443 contains one of the --match byte strings (Host header or SNI)
  blockpage  forged HTTP response (block page) then a forged FIN to the client, for a matching HTTP request
  dns        forged DNS answer (A record --sinkhole) for a query whose name matches
Every forged packet carries IP TTL --ttl. Each injection is logged as one JSON line to --log.
"""
import argparse, json, random, sys, time
from scapy.all import conf, sniff, IP, TCP, UDP, DNS, DNSQR, DNSRR, Raw  # noqa

BLOCK_PAGE = ("<html><head><meta charset=\"utf-8\"><title>Доступ ограничен</title></head><body>"
              "<h1>Доступ к данному интернет-ресурсу ограничен</h1>"
              "<p>Access to this resource is restricted in accordance with the legislation of the Republic of "
              "Kazakhstan.</p><p>Бұл интернет-ресурсқа қолжетімділік шектелген.</p></body></html>\n").encode()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iface", required=True)
    ap.add_argument("--mode", choices=["rst", "blockpage", "dns"], required=True)
    ap.add_argument("--match", action="append", required=True)
    ap.add_argument("--ttl", type=int, required=True)
    ap.add_argument("--client-net", default="10.77.")
    ap.add_argument("--sinkhole", default="10.77.66.66")
    ap.add_argument("--log", required=True)
    args = ap.parse_args()
    matches = [m.encode() for m in args.match]
    rnd = random.Random()
    sock = conf.L3socket()
    log = open(args.log, "a", buffering=1)

    def emit(pkt, what):
        sock.send(pkt)
        p = pkt[IP]
        rec = {"t": time.time(), "what": what, "src": p.src, "dst": p.dst, "ttl": p.ttl, "id": p.id}
        if TCP in pkt:
            rec.update(sport=pkt[TCP].sport, dport=pkt[TCP].dport, seq=pkt[TCP].seq, ack=pkt[TCP].ack,
                       flags=str(pkt[TCP].flags))
        log.write(json.dumps(rec) + "\n")

    def ipid():
        return rnd.randrange(1, 65535)

    def handle(pkt):
        if IP not in pkt:
            return
        ip = pkt[IP]
        if not ip.src.startswith(args.client_net):
            return
        if args.mode in ("rst", "blockpage") and TCP in pkt:
            t = pkt[TCP]
            if t.dport not in (80, 443):
                return
            data = bytes(t.payload)
            if not data or not any(m in data for m in matches):
                return
            end = t.seq + len(data)
            if args.mode == "rst":
                to_client = IP(src=ip.dst, dst=ip.src, ttl=args.ttl, id=ipid()) / TCP(
                    sport=t.dport, dport=t.sport, flags="RA", seq=t.ack, ack=end, window=0)
                to_server = IP(src=ip.src, dst=ip.dst, ttl=args.ttl, id=ipid()) / TCP(
                    sport=t.sport, dport=t.dport, flags="R", seq=end, window=0)
                emit(to_client, "rst-to-client")
                emit(to_server, "rst-to-server")
            else:
                body = BLOCK_PAGE
                head = ("HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/html; charset=utf-8\r\n"
                        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
                resp = head + body
                p1 = IP(src=ip.dst, dst=ip.src, ttl=args.ttl, id=ipid()) / TCP(
                    sport=t.dport, dport=t.sport, flags="PA", seq=t.ack, ack=end, window=8192) / Raw(resp)
                p2 = IP(src=ip.dst, dst=ip.src, ttl=args.ttl, id=ipid()) / TCP(
                    sport=t.dport, dport=t.sport, flags="FA", seq=t.ack + len(resp), ack=end, window=8192)
                emit(p1, "blockpage-response")
                emit(p2, "blockpage-fin")
        elif args.mode == "dns" and UDP in pkt and pkt[UDP].dport == 53 and DNS in pkt:
            d = pkt[DNS]
            if d.qr != 0 or d.qd is None:
                return
            q = d.qd[0] if hasattr(d.qd, "__getitem__") else d.qd
            qname = q.qname if isinstance(q.qname, bytes) else q.qname.encode()
            if not any(m in qname for m in matches) or q.qtype != 1:
                return
            forged = IP(src=ip.dst, dst=ip.src, ttl=args.ttl, id=ipid()) / UDP(sport=53, dport=pkt[UDP].sport) / DNS(
                id=d.id, qr=1, opcode=0, aa=0, rd=d.rd, ra=1, rcode=0, qd=DNSQR(qname=qname, qtype=1, qclass=1),
                an=DNSRR(rrname=qname, type=1, rclass=1, ttl=300, rdata=args.sinkhole))
            emit(forged, "dns-answer")

    flt = "udp dst port 53" if args.mode == "dns" else "tcp and (dst port 80 or dst port 443)"
    sniff(iface=args.iface, filter=flt, prn=handle, store=False,
          started_callback=lambda: print(f"injector {args.mode} on {args.iface} ttl {args.ttl} ready", flush=True))


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Python-socket clients for the lab: TTL-limited censorship probes (CenTrace method), a UDP traceroute,
and a single TLS ClientHello sender. Results go to stdout as JSON lines.
"""
import argparse, json, socket, ssl, struct, sys, time


def client_hello(sni):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    inb, outb = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inb, outb, server_hostname=sni)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outb.read()


def payload(kind, name):
    if kind == "http":
        return (f"GET / HTTP/1.1\r\nHost: {name}\r\nUser-Agent: kzlab-centrace/1\r\nAccept: */*\r\n\r\n").encode()
    return client_hello(name)


def one_probe(server, port, data, ttl, wait):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(3)
    out = {"ttl": ttl}
    try:
        s.connect((server, port))
        out["cport"] = s.getsockname()[1]
        s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
        s.sendall(data)
        s.settimeout(wait)
        got = b""
        t0 = time.monotonic()
        try:
            while time.monotonic() - t0 < wait:
                chunk = s.recv(65536)
                if not chunk:
                    out["result"] = "fin"
                    break
                got += chunk
        except socket.timeout:
            out["result"] = "data" if got else "timeout"
        except ConnectionResetError:
            out["result"] = "rst"
        if "result" not in out:
            out["result"] = "data" if got else "timeout"
        out["bytes"] = len(got)
    except OSError as e:
        out["result"] = "error:" + type(e).__name__
    finally:
        try:
            s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 64)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        s.close()
    return out


def sweep(args):
    for ttl in range(1, args.max_ttl + 1):
        for role, name in (("blocked", args.blocked), ("control", args.control)):
            r = one_probe(args.server, args.port, payload(args.kind, name), ttl, args.wait)
            r.update(role=role, name=name)
            print(json.dumps(r), flush=True)
            time.sleep(0.05)


def traceroute(args):
    for ttl in range(1, args.max_ttl + 1):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
        s.sendto(b"kzlab-trace", (args.server, 33433 + ttl))
        s.close()
        print(json.dumps({"ttl": ttl, "dport": 33433 + ttl}), flush=True)
        time.sleep(0.1)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    sw = sub.add_parser("sweep")
    sw.add_argument("--server", required=True)
    sw.add_argument("--port", type=int, required=True)
    sw.add_argument("--kind", choices=["http", "tls"], required=True)
    sw.add_argument("--blocked", required=True)
    sw.add_argument("--control", required=True)
    sw.add_argument("--max-ttl", type=int, default=8)
    sw.add_argument("--wait", type=float, default=0.7)
    tr = sub.add_parser("traceroute")
    tr.add_argument("--server", required=True)
    tr.add_argument("--max-ttl", type=int, default=7)
    args = ap.parse_args()
    {"sweep": sweep, "traceroute": traceroute}[args.cmd](args)


if __name__ == "__main__":
    main()

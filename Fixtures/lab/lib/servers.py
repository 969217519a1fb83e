#!/usr/bin/python3
"""HTTP and HTTPS origin servers for the lab (runs inside the server namespace).

Every name gets its own page; /download/N returns N bytes. --delay-ms makes the server answer late (a far-away
server), so an on-path injector can win its race the way it does on the real Internet.
HTTPS picks the certificate by SNI (certs/<name>.pem + key) and offers TLS 1.2 and 1.3.
"""
import argparse, os, socket, ssl, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kzlab-origin/1.0"
    sys_version = ""

    def log_message(self, fmt, *a):
        sys.stderr.write("%s %s\n" % (self.client_address[0], fmt % a))

    def do_GET(self):
        delay = self.server.delay
        if delay:
            time.sleep(delay)
        host = (self.headers.get("Host") or "").split(":")[0]
        if self.path.startswith("/download/"):
            try:
                n = max(0, min(int(self.path.split("/")[2]), 50_000_000))
            except ValueError:
                n = 0
            line = b"kzlab-download-" + host.encode() + b"\n"
            body = (line * (n // len(line) + 1))[:n]
            ctype = "application/octet-stream"
        else:
            body = (f"<html><head><title>{host}</title></head><body><h1>Real content of {host}</h1>"
                    f"<p>served by the kzlab origin server</p></body></html>\n").encode()
            ctype = "text/html; charset=utf-8"
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, family, delay, tls):
        self.address_family = family
        self.delay = delay
        self.tls = tls
        super().__init__(addr, Handler)

    def finish_request(self, request, client_address):
        if self.tls is not None:
            if self.delay:
                time.sleep(self.delay)   # ServerHello comes late, like a far server
            try:
                request = self.tls.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError) as e:
                sys.stderr.write(f"tls handshake with {client_address}: {e}\n")
                return
        super().finish_request(request, client_address)


def tls_context(certdir, names, default):
    ctxs = {}
    for n in names:
        c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        c.load_cert_chain(os.path.join(certdir, n + ".pem"), os.path.join(certdir, n + ".key"))
        ctxs[n] = c
    base = ctxs[default]

    def pick(sslobj, name, _ctx):
        if name in ctxs:
            sslobj.context = ctxs[name]
    base.sni_callback = pick
    return base


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--addr", action="append", required=True, help="address to listen on (v4 or v6)")
    ap.add_argument("--certdir", required=True)
    ap.add_argument("--names", required=True, help="comma separated names with certs")
    ap.add_argument("--delay-ms", type=float, default=0)
    args = ap.parse_args()
    names = args.names.split(",")
    tls = tls_context(args.certdir, names, names[0])
    servers = []
    for a in args.addr:
        fam = socket.AF_INET6 if ":" in a else socket.AF_INET
        servers.append(Server((a, 80), fam, args.delay_ms / 1000.0, None))
        servers.append(Server((a, 443), fam, args.delay_ms / 1000.0, tls))
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    print("servers ready", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Servers and clients for the lab's negative controls (no censor involved).

  control_tcp.py server --addr A [--addr B ...]     HTTP/1.1 on port 80 of every address, one behaviour per path:
      /page           200 with a small page, Connection: close (ordinary close, FIN)
      /linger0        200 with a small page, then SO_LINGER {on, 0} and close(): the server's own RST after the response
                      (what IIS, load balancers and many appliances do instead of a FIN)
      /abort/N        200 with Content-Length N, but after about a fifth of the body the server aborts (SO_LINGER 0):
                      RST while its own data is still in flight
      /unread         200 right after the request line and headers; the request body is never read and the socket is
                      closed with it still queued: the kernel sends RST instead of FIN (RFC 9293 §3.6, RFC 1122
                      4.2.2.13)
      /keepalive      200, Connection: keep-alive; the connection stays open for further requests
  control_tcp.py idle-client --server A --host H --idle S
      one HTTP/1.1 keep-alive connection: GET /keepalive, read the answer, stay idle S seconds, GET /keepalive again
      and report how the second request ended (answer, reset, timeout)

Every page body starts with "Real content of HOST" so the lab's verifier can tell a real answer.
"""
import argparse, socket, struct, sys, threading, time


def page(host, n=None):
    head = (f"<html><head><title>{host}</title></head><body><h1>Real content of {host}</h1>"
            f"<p>served by the kzlab control server</p></body></html>\n").encode()
    if n is None or n <= len(head):
        return head
    line = b"kzlab-control-" + host.encode() + b"\n"
    return head + (line * ((n - len(head)) // len(line) + 1))[: n - len(head)]


def read_request(conn):
    """(method, path, headers dict) or None on EOF/reset. The request head is peeked first and then only the head is
    read, so a request body stays in the kernel's receive queue until the handler reads it (or never does)."""
    while True:
        try:
            d = conn.recv(65536, socket.MSG_PEEK)
        except OSError:
            return None
        if not d:
            return None
        i = d.find(b"\r\n\r\n")
        if i >= 0:
            break
        time.sleep(0.01)
    head = b""
    while len(head) < i + 4:
        got = conn.recv(i + 4 - len(head))
        if not got:
            return None
        head += got
    lines = head[:i].decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    hdrs = {}
    for ln in lines[1:]:
        if ":" in ln:
            k, v = ln.split(":", 1)
            hdrs[k.strip().lower()] = v.strip()
    return parts[0], parts[1] if len(parts) > 1 else "/", hdrs


def response(body, keep=False, length=None):
    return (f"HTTP/1.1 200 OK\r\nServer: kzlab-control/1.0\r\nContent-Type: text/html; charset=utf-8\r\n"
            f"Content-Length: {len(body) if length is None else length}\r\n"
            f"Connection: {'keep-alive' if keep else 'close'}\r\n\r\n").encode()


def abort(conn):
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def handle(conn, peer):
    try:
        while True:
            req = read_request(conn)
            if req is None:
                conn.close()
                return
            method, path, hdrs = req
            host = hdrs.get("host", "").split(":")[0]
            sys.stderr.write(f"{peer[0]}:{peer[1]} {method} {host}{path}\n")
            if path.startswith("/keepalive"):
                body = page(host)
                conn.sendall(response(body, keep=True) + body)
                continue
            if path.startswith("/linger0"):
                body = page(host)
                conn.sendall(response(body) + body)
                time.sleep(0.15)            # the client has the page; then the server resets instead of closing
                abort(conn)
                return
            if path.startswith("/abort/"):
                try:
                    n = max(1000, min(int(path.split("/")[2]), 2_000_000))
                except ValueError:
                    n = 100_000
                body = page(host, n)
                conn.sendall(response(body) + body[: n // 5])
                time.sleep(0.02)
                abort(conn)
                return
            if path.startswith("/unread"):
                body = page(host)
                conn.sendall(response(body) + body)
                time.sleep(0.15)
                conn.close()                 # the request body is still queued: the kernel sends RST, not FIN
                return
            body = page(host)
            conn.sendall(response(body) + body)
            conn.shutdown(socket.SHUT_WR)
            while conn.recv(65536):
                pass
            conn.close()
            return
    except OSError as e:
        sys.stderr.write(f"{peer}: {e}\n")
        try:
            conn.close()
        except OSError:
            pass


def serve(addr):
    s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, 80))
    s.listen(64)
    while True:
        c, peer = s.accept()
        threading.Thread(target=handle, args=(c, peer), daemon=True).start()


def idle_client(server, host, idle):
    c = socket.create_connection((server, 80), timeout=10)
    req = f"GET /keepalive HTTP/1.1\r\nHost: {host}\r\nUser-Agent: kzlab-idle/1.0\r\nAccept: */*\r\n\r\n".encode()
    c.sendall(req)
    got = c.recv(65536)
    print(f"first answer {len(got)} bytes: {got[:15]!r}", flush=True)
    time.sleep(idle)
    try:
        c.sendall(req)
        got = c.recv(65536)
        print(f"second answer {len(got)} bytes: {got[:15]!r}", flush=True)
    except ConnectionResetError:
        print("second request: connection reset", flush=True)
    except socket.timeout:
        print("second request: timeout", flush=True)
    c.close()


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("server")
    s.add_argument("--addr", action="append", required=True)
    c = sub.add_parser("idle-client")
    c.add_argument("--server", required=True)
    c.add_argument("--host", required=True)
    c.add_argument("--idle", type=float, required=True)
    args = ap.parse_args()
    if args.cmd == "server":
        for a in args.addr:
            threading.Thread(target=serve, args=(a,), daemon=True).start()
        time.sleep(0.2)
        print("control servers ready", flush=True)
        threading.Event().wait()
    else:
        idle_client(args.server, args.host, args.idle)


if __name__ == "__main__":
    main()

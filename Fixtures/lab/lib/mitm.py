#!/usr/bin/python3
"""In-path TLS interception proxy (runs in the censor router namespace behind an iptables REDIRECT).

Every redirected TCP/443 connection is accepted here. The proxy peeks at the ClientHello: for a blocked SNI it
terminates TLS itself (TLS 1.2 at most, so the certificate chain travels in clear) with a forged chain
leaf <- "Security Certificate" <- "Qaznet Trust Network", fetches the real page from the origin over a new TLS
connection and relays it; any other SNI is spliced byte for byte to the original destination.
Locally generated packets carry IP TTL --ttl (set on the listening socket, inherited by accepted sockets).
"""
import argparse, json, os, select, socket, ssl, struct, sys, threading, time

SO_ORIGINAL_DST = 80


def original_dst(conn):
    raw = conn.getsockopt(socket.SOL_IP, SO_ORIGINAL_DST, 16)
    port = struct.unpack(">H", raw[2:4])[0]
    return socket.inet_ntoa(raw[4:8]), port


def parse_sni(data):
    """SNI from a TLS ClientHello record (RFC 8446 4.1.2, RFC 6066 3); None when absent or incomplete."""
    try:
        if len(data) < 5 or data[0] != 22:
            return None
        rec_len = struct.unpack(">H", data[3:5])[0]
        hs = data[5:5 + rec_len]
        if len(hs) < 4 or hs[0] != 1:
            return None
        p = 4 + 2 + 32
        p += 1 + hs[p]
        p += 2 + struct.unpack(">H", hs[p:p + 2])[0]
        p += 1 + hs[p]
        ext_end = p + 2 + struct.unpack(">H", hs[p:p + 2])[0]
        p += 2
        while p + 4 <= ext_end:
            et, el = struct.unpack(">HH", hs[p:p + 4])
            if et == 0:
                lst = hs[p + 4:p + 4 + el]
                nl = struct.unpack(">H", lst[3:5])[0]
                return lst[5:5 + nl].decode("ascii", "replace")
            p += 4 + el
    except (IndexError, struct.error):
        return None
    return None


def pipe(a, b):
    socks = [a, b]
    try:
        while True:
            r, _, _ = select.select(socks, [], [], 10)
            if not r:
                return
            for s in r:
                data = s.recv(65536)
                if not data:
                    return
                (b if s is a else a).sendall(data)
    except OSError:
        return


def handle(conn, args, forged_ctxs, log):
    try:
        dst = original_dst(conn)
        conn.settimeout(5)
        data = b""
        for _ in range(50):
            data = conn.recv(16384, socket.MSG_PEEK)
            if len(data) >= 5 and len(data) >= 5 + struct.unpack(">H", data[3:5])[0]:
                break
            time.sleep(0.01)
        sni = parse_sni(data)
        log.write(json.dumps({"t": time.time(), "dst": "%s:%d" % dst, "sni": sni,
                              "action": "intercept" if sni in forged_ctxs else "splice"}) + "\n")
        if sni in forged_ctxs:
            tls = forged_ctxs[sni].wrap_socket(conn, server_side=True)
            req = b""
            while b"\r\n\r\n" not in req:
                chunk = tls.recv(4096)
                if not chunk:
                    break
                req += chunk
            up_ctx = ssl.create_default_context(cafile=args.origin_ca)
            up = up_ctx.wrap_socket(socket.create_connection(dst, timeout=5), server_hostname=sni)
            up.sendall(req)
            while True:
                chunk = up.recv(65536)
                if not chunk:
                    break
                tls.sendall(chunk)
            up.close()
            tls.unwrap() if False else tls.close()
        else:
            up = socket.create_connection(dst, timeout=5)
            conn.settimeout(None)
            pipe(conn, up)
            up.close()
            conn.close()
    except (OSError, ssl.SSLError) as e:
        sys.stderr.write(f"mitm: {e}\n")
        try:
            conn.close()
        except OSError:
            pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=8443)
    ap.add_argument("--ttl", type=int, required=True)
    ap.add_argument("--certdir", required=True, help="holds forged-<name>.pem (leaf+chain) and forged-<name>.key")
    ap.add_argument("--intercept", action="append", required=True)
    ap.add_argument("--origin-ca", required=True)
    ap.add_argument("--log", required=True)
    args = ap.parse_args()
    ctxs = {}
    for name in args.intercept:
        c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        c.maximum_version = ssl.TLSVersion.TLSv1_2
        c.load_cert_chain(os.path.join(args.certdir, f"forged-{name}.pem"),
                          os.path.join(args.certdir, f"forged-{name}.key"))
        ctxs[name] = c
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, args.ttl)
    ls.bind(("0.0.0.0", args.port))
    ls.listen(64)
    log = open(args.log, "a", buffering=1)
    print("mitm ready", flush=True)
    while True:
        conn, _ = ls.accept()
        conn.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, args.ttl)
        threading.Thread(target=handle, args=(conn, args, ctxs, log), daemon=True).start()


if __name__ == "__main__":
    main()

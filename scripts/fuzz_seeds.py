#!/usr/bin/env python3
"""Builds seed corpora for the fuzz targets from Fixtures/ and the shared corpus (when present).

    scripts/fuzz_seeds.py OUT_DIR        → OUT_DIR/<target>/… for capture decoder reassembly dns http tls certificate

The shared corpus is ../shared/corpus from the package root (worktrees one level deeper: ../../shared/corpus).
Deterministic: files are taken in sorted order.
"""
import base64, glob, os, re, struct, sys

out = sys.argv[1]
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
caps = sorted(glob.glob(os.path.join(root, "Fixtures/**/*.pcap*"), recursive=True))
for rel in ("../shared/corpus", "../../shared/corpus"):
    shared = os.path.normpath(os.path.join(root, rel))
    if os.path.isfile(os.path.join(shared, "MANIFEST.tsv")):
        caps += sorted(glob.glob(os.path.join(shared, "**/*.pcap*"), recursive=True))
        break
else:
    print("fuzz_seeds: shared corpus not found; seeding from Fixtures/ only", file=sys.stderr)

TARGETS = ["capture", "decoder", "reassembly", "dns", "http", "tls", "certificate"]
# Index of a link type in KZFuzz's decoder table (first input byte selects it).
LT_INDEX = {0: 0, 1: 1, 9: 2, 50: 3, 51: 4, 101: 5, 108: 6, 113: 7, 228: 8, 229: 9, 276: 10, 147: 11}


def frames(data):
    """(link type, frame bytes) of a classic pcap or pcapng file; stops quietly at damage."""
    if len(data) >= 24 and data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
        lt = struct.unpack(e + "I", data[20:24])[0] & 0xffff
        off = 24
        while off + 16 <= len(data):
            cap = struct.unpack(e + "I", data[off + 8:off + 12])[0]
            if cap > 262144 or off + 16 + cap > len(data):
                return
            yield lt, data[off + 16:off + 16 + cap]
            off += 16 + cap
    elif data[:4] == b"\x0a\x0d\x0d\x0a":
        off, e, ifaces = 0, "<", []
        while off + 12 <= len(data):
            if data[off:off + 4] == b"\x0a\x0d\x0d\x0a":
                e = "<" if data[off + 8:off + 12] == b"\x4d\x3c\x2b\x1a" else ">"
                ifaces = []
            btype, total = struct.unpack(e + "II", data[off:off + 8])
            if total < 12 or total % 4 or off + total > len(data):
                return
            body = data[off + 8:off + total - 4]
            if btype == 1 and len(body) >= 2:
                ifaces.append(struct.unpack(e + "H", body[:2])[0])
            elif btype == 6 and len(body) >= 20:
                iid, _, _, cap = struct.unpack(e + "IIII", body[:16])
                if iid < len(ifaces) and 20 + cap <= len(body):
                    yield ifaces[iid], body[20:20 + cap]
            off += total


def ip_transport(lt, f):
    """(proto, src-is-lower, seq, flags, sport, dport, payload) for Ethernet/raw IPv4 TCP or UDP, else None."""
    if lt == 1:
        if len(f) < 14:
            return None
        et, o = struct.unpack(">H", f[12:14])[0], 14
        if et == 0x8100 and len(f) >= 18:
            et, o = struct.unpack(">H", f[16:18])[0], 18
        if et != 0x0800:
            return None
    elif lt in (101, 228):
        o = 0
    else:
        return None
    if len(f) < o + 20 or f[o] >> 4 != 4:
        return None
    ihl = (f[o] & 15) * 4
    proto, src, dst = f[o + 9], f[o + 12:o + 16], f[o + 16:o + 20]
    t = o + ihl
    if proto == 6 and len(f) >= t + 20:
        sport, dport, seq = struct.unpack(">HHI", f[t:t + 8])
        doff = (f[t + 12] >> 4) * 4
        return 6, src < dst, seq, f[t + 13], sport, dport, f[t + doff:]
    if proto == 17 and len(f) >= t + 8:
        sport, dport = struct.unpack(">HH", f[t:t + 4])
        return 17, src < dst, 0, 0, sport, dport, f[t + 8:]
    return None


for t in TARGETS:
    os.makedirs(os.path.join(out, t), exist_ok=True)


def put(target, name, data):
    with open(os.path.join(out, target, name), "wb") as fh:
        fh.write(data)


for n, c in enumerate(caps):
    try:
        data = open(c, "rb").read()
    except OSError:
        continue
    if len(data) <= 64 * 1024:
        put("capture", "c%04d" % n, data)
    streams = {}
    for i, (lt, f) in enumerate(frames(data)):
        if i >= 400:
            break
        if lt in LT_INDEX and i < 20:
            put("decoder", "d%04d_%02d" % (n, i), bytes([LT_INDEX[lt]]) + f)
        tr = ip_transport(lt, f)
        if not tr:
            continue
        proto, low, seq, flags, sport, dport, payload = tr
        if proto == 17 and 53 in (sport, dport) and payload:
            put("dns", "n%04d_%03d" % (n, i), payload)
        if proto != 6:
            continue
        if payload[:1] == b"\x16" and payload[1:2] == b"\x03":
            put("tls", "t%04d_%03d" % (n, i), payload)
        # DER certificates inside TLS 1.2 Certificate messages (SEQUENCE { SEQUENCE … }), whole or cut.
        j = payload.find(b"\x30\x82")
        while 0 <= j and len(os.listdir(os.path.join(out, "certificate"))) < 200:
            if payload[j + 4:j + 6] == b"\x30\x82":
                ln = struct.unpack(">H", payload[j + 2:j + 4])[0]
                put("certificate", "x%04d_%03d_%d" % (n, i, j), payload[j:j + 4 + ln])
            j = payload.find(b"\x30\x82", j + 2)
        if payload[:4] in (b"GET ", b"POST", b"HTTP", b"HEAD", b"PUT "):
            put("http", "h%04d_%03d" % (n, i), payload)
        if 53 in (sport, dport) and len(payload) > 2:
            put("dns", "q%04d_%03d" % (n, i), payload)
        # Reassembly records: [flags | 0x80 for the reverse direction][len][seq, 4 bytes][payload].
        key = tuple(sorted([(sport,), (dport,)]))
        s = streams.setdefault(key, [])
        if len(s) < 64:
            p = payload[:199]
            s.append(bytes([(flags & 0x3f) | (0 if low else 0x80), len(p)]) + struct.pack(">I", seq) + p)
    for k, recs in enumerate(sorted(streams.values(), key=len, reverse=True)[:3]):
        if len(recs) >= 3:
            put("reassembly", "r%04d_%d" % (n, k), b"".join(recs))

for b in sorted(glob.glob(os.path.join(root, "Fixtures/protocols/**/*"), recursive=True)):
    if os.path.isfile(b):
        name = os.path.basename(b)
        kind = "dns" if "dns" in name else "http" if "http" in name else "tls" if ("tls" in name or "hello" in name) else None
        if "cert" in name or name.endswith(".der"):
            kind = "certificate"
        if kind:
            put(kind, "f_" + name, open(b, "rb").read())
for pem in sorted(glob.glob(os.path.join(root, "Fixtures/**/*.pem"), recursive=True)):
    text = open(pem, "r", errors="replace").read()
    for k, m in enumerate(re.finditer(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", text, re.S)):
        put("certificate", "p_%s_%d" % (os.path.basename(pem), k), base64.b64decode("".join(m.group(1).split())))
put("reassembly", "r_hello", bytes([0x02, 0, 0, 0, 0, 1, 0x10, 5, 0, 0, 0, 2]) + b"hello")
print("seeds:", {t: len(os.listdir(os.path.join(out, t))) for t in TARGETS}, file=sys.stderr)

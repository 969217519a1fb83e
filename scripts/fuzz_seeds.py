#!/usr/bin/env python3
"""Builds seed corpora for the fuzz targets from Fixtures/ and ../shared/corpus (when present)."""
import os, struct, sys, glob

out = sys.argv[1]
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
caps = sorted(glob.glob(os.path.join(root, "Fixtures/**/*.pcap"), recursive=True))
shared = os.path.join(root, "..", "shared", "corpus")
if os.path.isdir(shared):
    caps += sorted(glob.glob(os.path.join(shared, "**/*.pcap*"), recursive=True))[:200]

def frames(path):
    data = open(path, "rb").read()
    if len(data) < 24 or data[:4] not in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        return
    lt = struct.unpack("<I", data[20:24])[0] & 0xffff
    off = 24
    while off + 16 <= len(data):
        cap = struct.unpack("<I", data[off + 8:off + 12])[0]
        if off + 16 + cap > len(data):
            return
        yield lt, data[off + 16:off + 16 + cap]
        off += 16 + cap

lt_index = {0: 0, 1: 1, 9: 2, 50: 3, 51: 4, 101: 5, 108: 6, 113: 7, 228: 8, 229: 9, 276: 10}
for t in ["capture", "decoder", "reassembly", "dns", "http", "tls", "certificate"]:
    os.makedirs(os.path.join(out, t), exist_ok=True)
n = 0
for c in caps:
    if os.path.getsize(c) <= 64 * 1024:
        open(os.path.join(out, "capture", "c%04d" % n), "wb").write(open(c, "rb").read())
    for i, (lt, f) in enumerate(frames(c)):
        if i >= 20 or lt not in lt_index:
            break
        open(os.path.join(out, "decoder", "d%04d_%02d" % (n, i)), "wb").write(bytes([lt_index[lt]]) + f)
        payload = f[54:] if lt == 1 and len(f) > 54 else b""
        if payload[:3] == b"\x16\x03\x01" or payload[:3] == b"\x16\x03\x03":
            open(os.path.join(out, "tls", "t%04d_%02d" % (n, i)), "wb").write(payload)
        if payload[:4] in (b"GET ", b"POST", b"HTTP"):
            open(os.path.join(out, "http", "h%04d_%02d" % (n, i)), "wb").write(payload)
        if lt == 1 and len(f) > 42 and f[23] == 17:
            open(os.path.join(out, "dns", "n%04d_%02d" % (n, i)), "wb").write(f[42:])
    n += 1
for b in sorted(glob.glob(os.path.join(root, "Fixtures/protocols/**/*"), recursive=True)):
    if os.path.isfile(b):
        name = os.path.basename(b)
        kind = "dns" if "dns" in name else "http" if "http" in name else "tls" if ("tls" in name or "hello" in name) else None
        if "cert" in name or name.endswith(".der"):
            kind = "certificate"
        if kind:
            open(os.path.join(out, kind, "f_" + name), "wb").write(open(b, "rb").read())
open(os.path.join(out, "reassembly", "r0"), "wb").write(bytes([0x02, 0, 0, 0, 0, 1, 0x10, 5, 0, 0, 0, 2]) + b"hello")
print("seeds:", {t: len(os.listdir(os.path.join(out, t))) for t in os.listdir(out)}, file=sys.stderr)

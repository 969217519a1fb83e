#!/usr/bin/python3
"""Compare a fresh lab run with the committed fixtures, ignoring what truth.json marks as variable.

usage: compare.py FRESH_DIR [COMMITTED_DIR]   (default: Fixtures/captures/lab next to this script)

Equal must be: the set of scenarios; per scenario the captures, topology, censor record (hop, router, style,
mechanism, inject TTL, trigger, first triggering TTL); the interfered flows as a multiset of
(detector, capture, proto, server, target, kinds of injected packets); the clean flows; the sweep summary and each
probe's (TTL, role, injected?, time-exceeded source). Frame numbers, ports, sequence numbers, IP IDs, timings and
frame counts may differ (they are listed in the truth's "variable").
"""
import collections, json, os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import labpcap as L  # noqa: E402


def load(d):
    out = {}
    for x in sorted(os.listdir(d)):
        p = os.path.join(d, x, "truth.json")
        if os.path.exists(p):
            out[x] = (os.path.join(d, x), json.load(open(p)))
    return out


def summary(sd, t):
    frames = {c["file"]: L.load(os.path.join(sd, c["file"])) for c in t["captures"]}

    def kinds(e):
        fr = frames[e["capture"]]
        return tuple(sorted({L.injected_kind(fr[n - 1]) for n in e["injected_frames"] if 1 <= n <= len(fr)}))
    inter = collections.Counter(
        (e["detector"], e["capture"], e["proto"], e["server"], json.dumps(e["target"], sort_keys=True), kinds(e),
         e["min_confidence"]) for e in t["interfered"])
    clean = collections.Counter((e["capture"], e["proto"], e["server"], json.dumps(e["target"], sort_keys=True))
                                for e in t["clean"])
    sweep = None
    if t["sweep"]:
        sweep = {k: v for k, v in t["sweep"].items() if k != "probes"}
        sweep["probes"] = sorted((p["ttl"], p["role"], bool(p["injected_frames"]), tuple(p["time_exceeded"]))
                                 for p in t["sweep"]["probes"])
    return {"captures": t["captures"], "topology": t["topology"], "censor": t["censor"], "interfered": inter,
            "clean": clean, "sweep": sweep, "variable": t["variable"],
            "frames": {k: len(v) for k, v in frames.items()}}


def main():
    fresh = sys.argv[1]
    committed = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                                  "..", "captures", "lab")
    a, b = load(fresh), load(committed)
    bad = 0
    if set(a) != set(b):
        print(f"DIFF scenario sets: only fresh {sorted(set(a) - set(b))}, only committed {sorted(set(b) - set(a))}")
        bad += 1
    for s in sorted(set(a) & set(b)):
        sa, sb = summary(*a[s]), summary(*b[s])
        diffs = [k for k in ("captures", "topology", "censor", "interfered", "clean", "sweep", "variable")
                 if sa[k] != sb[k]]
        fa, fb = sa["frames"], sb["frames"]
        if diffs:
            bad += 1
            print(f"DIFF {s}: {', '.join(diffs)}")
            for k in diffs:
                if isinstance(sa[k], collections.Counter):
                    print(f"     only fresh:     {sorted((sa[k] - sb[k]).elements())}")
                    print(f"     only committed: {sorted((sb[k] - sa[k]).elements())}")
                else:
                    print(f"     fresh:     {json.dumps(sa[k], default=str)[:400]}")
                    print(f"     committed: {json.dumps(sb[k], default=str)[:400]}")
        else:
            print(f"SAME {s:20s} frames fresh {fa} committed {fb}")
    same = len(set(a) & set(b)) - sum(1 for _ in range(bad)) + (1 if set(a) != set(b) else 0)
    print(f"compare: {same} of {len(set(a) | set(b))} scenarios match")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

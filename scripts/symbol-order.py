#!/usr/bin/env python3
"""Writes scripts/symbol-order.txt: the functions `kzforensics analyze` executes, hottest first.

The release build (scripts/build-release.sh) hands this list to lld (--symbol-ordering-file), which lays those
functions out together at the start of .text. Without it the few megabytes of code a run executes are scattered over
the 21 MB of .text (our modules, the Swift runtime, Foundation, ICU, BoringSSL), and the kernel's fault-around maps
every 64 KiB window one of them falls in: about 13 MB of the binary ends up resident in every run. With the list in
place that falls to the code the run needs (measured figures: README, "Development", the "Measured" paragraphs).

How: callgrind (valgrind) records every function executed while the binary analyzes each capture under Fixtures/
(every detector's lab case) and, when given, the captures named on the command line; functions are ordered by their
summed self cost (instructions), names as the linker sees them (mangled). A stale list is harmless: lld skips names
it does not find (--no-warn-symbol-ordering) and lays out the rest as usual; scripts/release-check.sh (CI) fails when
fewer than half of the listed functions are left. Regenerate after large changes; the committed list was made with

    python3 bench/gen_capture.py --size 20M --seed 2025 -o /tmp/gen20m.pcap
    python3 scripts/symbol-order.py [--binary B] /tmp/gen20m.pcap

B defaults to the release build of scripts/build-release.sh; valgrind (Debian package 'valgrind') is required.
"""
import argparse
import glob
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def self_costs(out_file, binary_name, costs):
    """Adds each function's self cost (first event, Ir) in `binary_name` from one callgrind output file."""
    names, objects = {}, {}
    current_object, current_fn, after_call = None, None, False
    with open(out_file, errors='replace') as f:
        for line in f:
            m = re.match(r'^(c?ob)=\((\d+)\)(?: (.*))?', line)
            if m:
                if m.group(3):
                    objects[m.group(2)] = m.group(3)
                if m.group(1) == 'ob':
                    current_object = objects.get(m.group(2))
                continue
            m = re.match(r'^(c?fn)=\((\d+)\)(?: (.*))?', line)
            if m:
                if m.group(3):
                    names[m.group(2)] = m.group(3)
                if m.group(1) == 'fn':
                    ours = current_object is not None and os.path.basename(current_object) == binary_name
                    current_fn = names[m.group(2)] if ours else None
                    if current_fn is not None:
                        costs.setdefault(current_fn, 0)
                continue
            if line.startswith('calls='):
                after_call = True  # the next cost line is the call's inclusive cost, not self cost
                continue
            if re.match(r'^[+\-*]?\d', line):
                if after_call:
                    after_call = False
                    continue
                if current_fn is not None:
                    parts = line.split()
                    if len(parts) >= 2:
                        costs[current_fn] += int(parts[1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--binary', default=os.path.join(ROOT, '.build', 'release', 'kzforensics'))
    ap.add_argument('--out', default=os.path.join(ROOT, 'scripts', 'symbol-order.txt'))
    ap.add_argument('extra', nargs='*', help='further captures to analyze (e.g. one made by bench/gen_capture.py)')
    args = ap.parse_args()

    captures = sorted(glob.glob(os.path.join(ROOT, 'Fixtures', 'captures', '**', '*.pcap*'), recursive=True))
    captures += args.extra
    costs = {}
    with tempfile.TemporaryDirectory() as tmp:
        # valgrind cannot read the DWARF 5 forms of the toolchain's debug info: profile a copy without it.
        binary = os.path.join(tmp, 'kzforensics')
        subprocess.run(['strip', '--strip-debug', '-o', binary, args.binary], check=True)
        runs = [[c, '--format', 'json'] for c in captures] + [[captures[0], '--format', 'text']]
        for i, run in enumerate(runs):
            out = os.path.join(tmp, f'cg.{i}')
            cmd = ['valgrind', '--tool=callgrind', '--demangle=no', f'--callgrind-out-file={out}', binary,
                   'analyze', run[0], '--format', run[2], '--out', '/dev/null', '--quiet', '--threads', '1']
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self_costs(out, 'kzforensics', costs)
            print(f'[{i + 1}/{len(runs)}] {os.path.relpath(run[0], ROOT)}: {len(costs)} functions so far',
                  file=sys.stderr)
    order = sorted((n for n in costs if not n.startswith('(')), key=lambda n: (-costs[n], n))
    with open(args.out, 'w') as f:
        f.write('\n'.join(order) + '\n')
    print(f'{args.out}: {len(order)} functions', file=sys.stderr)


if __name__ == '__main__':
    main()

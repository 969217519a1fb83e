#!/usr/bin/env bash
# scripts/release-check.sh — builds the release binary that the README's demo and the benchmarks run
# (scripts/build-release.sh) and checks it: the regression run over Fixtures/ with that binary (optimised code,
# exclusivity checks off, the lld layout), that it needs no Swift library at run time, and how much of
# scripts/symbol-order.txt still names functions in it. .ci/run runs it after the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
[ -x /opt/swift/usr/bin/swift ] && export PATH=/opt/swift/usr/bin:$PATH
command -v python3 >/dev/null || { echo "release-check: python3 is required" >&2; exit 2; }

bash scripts/build-release.sh 2>&1 | tail -1
kz=.build/release/kzforensics

"$kz" check Fixtures/

if ldd "$kz" | grep -q 'libswift\|libFoundation'; then
    echo "release-check: $kz links a Swift library dynamically:" >&2
    ldd "$kz" | grep 'libswift\|libFoundation' >&2
    exit 1
fi

# The ordering list is recorded from a build (scripts/symbol-order.py); functions renamed or removed since are skipped
# by lld. Below half, most of the layout's saving is gone: fail, so the list gets regenerated.
python3 - "$kz" scripts/symbol-order.txt <<'EOF'
import subprocess, sys
binary, order_file = sys.argv[1], sys.argv[2]
names = [l for l in open(order_file).read().split('\n') if l]
defined = set()
for line in subprocess.run(['nm', '--defined-only', binary], capture_output=True, text=True, check=True).stdout.splitlines():
    parts = line.split()
    if len(parts) == 3:
        defined.add(parts[2])
found = sum(1 for n in names if n in defined)
share = found / len(names) if names else 0
print(f'symbol order: {found} of {len(names)} listed functions found in the release binary ({share:.0%})')
if share < 0.5:
    print('release-check: scripts/symbol-order.txt is stale: regenerate it with python3 scripts/symbol-order.py',
          file=sys.stderr)
    sys.exit(1)
EOF
echo "release check: ok"

#!/usr/bin/env bash
# Runs the libFuzzer targets for a fixed time each and reports executions and findings.
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET…]       (default 60 s; targets: capture decoder reassembly dns http tls certificate)
# Seeds come from Fixtures/ and, when present, ../shared/corpus. Crashes are written to fuzz-out/<target>/crash-*;
# each one found must become a regression test (Tests/…/FuzzRegressionTests.swift replays fuzz-out seeds).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x /opt/swift/usr/bin/swift ] && export PATH=/opt/swift/usr/bin:$PATH
secs=${1:-60}; shift || true
targets=${*:-capture decoder reassembly dns http tls certificate}
swift build -c release --product KZFuzz --scratch-path .build-fuzz \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld -Xswiftc -DKZ_FUZZ >/dev/null
bin=.build-fuzz/release/KZFuzz
out=fuzz-out; mkdir -p "$out"
/usr/bin/env python3 scripts/fuzz_seeds.py "$out/seeds"
export SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=0
printf '%-12s %12s %10s %8s\n' target execs exec/s crashes
total_crashes=0
for t in $targets; do
    mkdir -p "$out/$t/corpus"
    log="$out/$t/log.txt"
    set +e
    KZ_FUZZ_TARGET=$t "$bin" "$out/$t/corpus" "$out/seeds/$t" -max_total_time="$secs" -print_final_stats=1 \
        -artifact_prefix="$out/$t/" -rss_limit_mb=2048 -timeout=10 >"$log" 2>&1
    set -e
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
    rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
    crashes=$(ls "$out/$t"/crash-* "$out/$t"/timeout-* "$out/$t"/oom-* 2>/dev/null | wc -l)
    total_crashes=$((total_crashes + crashes))
    printf '%-12s %12s %10s %8s\n' "$t" "${execs:-0}" "${rate:-0}" "$crashes"
done
[ "$total_crashes" -eq 0 ]

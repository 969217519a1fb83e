#!/usr/bin/env bash
# Runs the libFuzzer targets for a fixed time each and reports executions and findings (issue 9).
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET…]    default 60 s; targets: capture decoder reassembly dns http tls certificate
#   scripts/fuzz.sh 20                                 short smoke run (CI-friendly; not run by CI by default)
# Environment: FUZZ_MAX_RUNS=N stops a target after N executions (as well as after the time);
#              FUZZ_BIN=PATH runs another build of KZFuzz (FUZZ_NO_BUILD=1 then skips building);
#              FUZZ_NO_BUILD=1 reuses the last build; FUZZ_OUT=DIR (default fuzz-out).
# Build recipe (TOOLCHAIN.md §4): one comma-joined -sanitize=fuzzer,address, lld, and SWIFT_BACKTRACE=enable=no.
# Seeds come from Fixtures/ and the shared corpus (scripts/fuzz_seeds.py); each target keeps its grown corpus in
# $FUZZ_OUT/<target>/corpus between runs. Crashes/timeouts/OOMs are written to $FUZZ_OUT/<target>/; each one must become
# a regression test: copy it to Fixtures/fuzz/<target>/ and Tests/KZPipelineTests/FuzzRegressionTests.swift replays it.
# Exit status: 0 when no target found anything, 1 otherwise (2 when the build or the instrumentation is broken).
set -uo pipefail
cd "$(dirname "$0")/.."
[ -x /opt/swift/usr/bin/swift ] && export PATH=/opt/swift/usr/bin:$PATH
secs=${1:-60}; shift || true
targets=${*:-capture decoder reassembly dns http tls certificate}
out=${FUZZ_OUT:-fuzz-out}
bin=${FUZZ_BIN:-.build-fuzz/release/KZFuzz}
if [ -z "${FUZZ_NO_BUILD:-}" ] || [ ! -x "$bin" ]; then
    echo "building KZFuzz (release, -sanitize=fuzzer,address)…" >&2
    if ! swift build -c release --product KZFuzz --scratch-path .build-fuzz \
        -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld -Xswiftc -DKZ_FUZZ >"/tmp/kz-fuzz-build.$$.log" 2>&1; then
        tail -30 "/tmp/kz-fuzz-build.$$.log" >&2
        echo "fuzz.sh: build failed" >&2
        exit 2
    fi
    rm -f "/tmp/kz-fuzz-build.$$.log"
fi
mkdir -p "$out"
if [ ! -d "$out/seeds" ]; then
    /usr/bin/env python3 scripts/fuzz_seeds.py "$out/seeds" || exit 2
fi
export SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1
runs=()
[ -n "${FUZZ_MAX_RUNS:-}" ] && runs=(-runs="$FUZZ_MAX_RUNS")
printf '%-12s %12s %9s %9s %6s %7s %s\n' target execs exec/s new_units cov crashes artifacts
found=0
for t in $targets; do
    mkdir -p "$out/$t/corpus" "$out/seeds/$t"
    log="$out/$t/log.txt"
    # Inputs no longer than the target needs: shorter inputs mean more executions per second.
    case $t in
        capture) maxlen=65536;; decoder) maxlen=9216;; reassembly) maxlen=4096;; dns) maxlen=4096;;
        http) maxlen=8192;; tls) maxlen=16384;; certificate) maxlen=8192;; *) maxlen=65536;;
    esac
    started=$SECONDS
    marker=$(mktemp /tmp/kz-fuzz-start.XXXXXX)   # artifacts older than this run are earlier findings, not this run's
    KZ_FUZZ_TARGET=$t "$bin" "$out/$t/corpus" "$out/seeds/$t" -max_total_time="$secs" "${runs[@]}" \
        -print_final_stats=1 -artifact_prefix="$out/$t/" -rss_limit_mb=2048 -timeout=10 -max_len="$maxlen" \
        >"$log" 2>&1
    if grep -q 'no interesting inputs were found\|Is the code instrumented' "$log"; then
        echo "fuzz.sh: $t is not instrumented for coverage (see $log)" >&2
        exit 2
    fi
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    newu=$(grep -o 'stat::new_units_added: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*')
    arts=$(find "$out/$t" -maxdepth 1 -newer "$marker" \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' \
        -o -name 'leak-*' \) 2>/dev/null | sort)
    rm -f "$marker"
    n=$(printf '%s' "$arts" | grep -c . || true)
    if grep -q 'ERROR: libFuzzer\|ERROR: AddressSanitizer\|SUMMARY: ' "$log" && [ "$n" -eq 0 ]; then n=1; fi
    found=$((found + n))
    printf '%-12s %12s %9s %9s %6s %7s %s\n' "$t" "${execs:-0}" "${rate:-0}" "${newu:-0}" "${cov:-?}" "$n" \
        "$(echo $arts)"
    # Ledger of every run, so campaign totals (issue 9: 10M executions or 1 h per target) add up across sessions.
    [ -s "$out/ledger.tsv" ] || printf 'date\ttarget\tseconds\texecs\tcov\tfindings\n' >"$out/ledger.tsv"
    secs_run=$((SECONDS - started))
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$t" "$secs_run" "${execs:-0}" "${cov:-?}" "$n" \
        >>"$out/ledger.tsv"
done
if [ -s "$out/ledger.tsv" ]; then
    echo "campaign totals ($out/ledger.tsv):"
    awk -F'\t' 'NR > 1 { s[$2] += $3; e[$2] += $4; f[$2] += $6 }
        END { for (t in s) printf "  %-12s %12d execs %8d s %3d findings\n", t, e[t], s[t], f[t] }' "$out/ledger.tsv" | sort
fi
[ "$found" -eq 0 ]

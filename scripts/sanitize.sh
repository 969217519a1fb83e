#!/usr/bin/env bash
# Runs the test suite under a sanitizer (issue 9).
#   scripts/sanitize.sh [extra swift test args, e.g. --filter KZPipelineTests]          AddressSanitizer
#   SANITIZER=thread scripts/sanitize.sh --filter 'ThreadedPipelineTests|ShardedFlowsTests|DNSInjectionWorkersTests'
#                                                                                       ThreadSanitizer
# The only threads are the pipeline stages of `--threads 2` (the flow stage and the detectors each on their own Thread,
# handing batches through Handoff queues; `flows` shards), and dns.injection's judging workers in `finish`;
# ThreadedPipelineTests drives the stages on every lab capture and a corpus sample.
# LeakSanitizer is off: the XCTest/Swift runtime leaks a few bytes at exit and would fail every run (TOOLCHAIN.md §4).
# SWIFT_BACKTRACE=enable=no: Swift's backtracer trips ASan on a crash and then hangs (TOOLCHAIN.md §4).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x /opt/swift/usr/bin/swift ] && export PATH=/opt/swift/usr/bin:$PATH
export SWIFT_BACKTRACE=enable=no
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=0:halt_on_error=1
export TSAN_OPTIONS=halt_on_error=1
san=${SANITIZER:-address}
case $san in
    address) name=AddressSanitizer;;
    thread) name=ThreadSanitizer;;
    *) echo "sanitize.sh: SANITIZER must be address or thread" >&2; exit 2;;
esac
log=$(mktemp /tmp/kz-sanitize.XXXXXX)
set +e
swift test --sanitize="$san" --scratch-path ".build-$san" "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
if grep -q "ERROR: AddressSanitizer\|WARNING: ThreadSanitizer" "$log"; then
    echo "sanitize.sh: $name reported an error (see above)" >&2
    rc=1
fi
rm -f "$log"
[ "$rc" -eq 0 ] && echo "sanitize.sh: clean ($name, all selected tests passed)"
exit "$rc"

#!/usr/bin/env bash
# Runs the test suite under AddressSanitizer (issue 9).
#   scripts/sanitize.sh [extra swift test args, e.g. --filter KZPipelineTests]
# The analysis is single-threaded (no Dispatch/TaskGroup/Thread in Sources/), so ThreadSanitizer is not run.
# LeakSanitizer is off: the XCTest/Swift runtime leaks a few bytes at exit and would fail every run (TOOLCHAIN.md §4).
# SWIFT_BACKTRACE=enable=no: Swift's backtracer trips ASan on a crash and then hangs (TOOLCHAIN.md §4).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x /opt/swift/usr/bin/swift ] && export PATH=/opt/swift/usr/bin:$PATH
export SWIFT_BACKTRACE=enable=no
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=0:halt_on_error=1
log=$(mktemp /tmp/kz-sanitize.XXXXXX)
set +e
swift test --sanitize=address --scratch-path .build-asan "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
if grep -q 'ERROR: AddressSanitizer' "$log"; then
    echo "sanitize.sh: AddressSanitizer reported an error (see above)" >&2
    rc=1
fi
rm -f "$log"
[ "$rc" -eq 0 ] && echo "sanitize.sh: clean (AddressSanitizer, all tests passed)"
exit "$rc"

#!/usr/bin/env bash
# The whole test suite: unit and corpus tests (swift test), then the regression run over Fixtures/.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
[ -x /opt/swift/usr/bin/swift ] && export PATH=/opt/swift/usr/bin:$PATH
swift build --build-tests
swift test --skip-build
.build/debug/kzforensics check Fixtures/
# Exit statuses (README "Commands"): 2 for usage errors, 1 when no input could be read, 0 when the analysis ran.
kz=.build/debug/kzforensics
cap=Fixtures/captures/lab/sni_rst_onpath/client.pcap
expect_status() {   # expect_status WANT CMD...
    local want=$1; shift
    set +e; "$@" >/dev/null 2>&1; local got=$?; set -e
    if [ "$got" -ne "$want" ]; then echo "exit status $got, expected $want: $*" >&2; exit 1; fi
}
for cmd in analyze packets flows dns http tls; do
    expect_status 0 "$kz" "$cmd" "$cap"
    expect_status 2 "$kz" "$cmd" "$cap" --filter 'bogus ('
    expect_status 1 "$kz" "$cmd" /nonexistent.pcap
done
expect_status 2 "$kz" analyze                 # no capture given
echo "exit statuses: ok"


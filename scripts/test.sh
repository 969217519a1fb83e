#!/usr/bin/env bash
# The whole test suite: unit and corpus tests (swift test), then the regression run over Fixtures/.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
[ -x /opt/swift/usr/bin/swift ] && export PATH=/opt/swift/usr/bin:$PATH
swift build --build-tests
swift test --skip-build
.build/debug/kzforensics check Fixtures/

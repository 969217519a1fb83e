#!/usr/bin/env bash
# Builds kzforensics and runs the main job on a capture shipped in Fixtures/.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
[ -x /opt/swift/usr/bin/swift ] && export PATH=/opt/swift/usr/bin:$PATH
# --static-swift-stdlib: a self-contained binary (Swift runtime and Foundation linked in), which also maps less memory.
swift build -c release --static-swift-stdlib --product kzforensics 2>&1 | tail -1
capture=${1:-Fixtures/captures/lab/sweep_http_inpath/client.pcap}
.build/release/kzforensics analyze "$capture"

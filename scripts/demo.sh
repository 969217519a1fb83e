#!/usr/bin/env bash
# Builds kzforensics and runs the main job on a capture shipped in Fixtures/.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
[ -x /opt/swift/usr/bin/swift ] && export PATH=/opt/swift/usr/bin:$PATH
# The release build (scripts/build-release.sh): a self-contained binary laid out to map little memory.
bash scripts/build-release.sh 2>&1 | tail -1
capture=${1:-Fixtures/captures/lab/sweep_http_inpath/client.pcap}
.build/release/kzforensics analyze "$capture"

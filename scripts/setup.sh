#!/usr/bin/env bash
# Installs what kzforensics needs on Debian bookworm (run as root; Swift 6 must already be installed).
# Idempotent: packages already present are not reinstalled, and apt-get update runs only when something is missing.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
need=()
for p in libpcap-dev libgeoip-dev geoip-database geoip-bin zlib1g-dev tshark tcpdump; do
    dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
    echo "setup: installing ${need[*]}" >&2
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    # tshark asks whether non-root users may capture; answer no.
    echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
    $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
if ! command -v swift >/dev/null 2>&1; then
    [ -x /opt/swift/usr/bin/swift ] && export PATH=/opt/swift/usr/bin:$PATH
fi
command -v swift >/dev/null || { echo "setup: Swift 6 is required (swift not on PATH)" >&2; exit 1; }

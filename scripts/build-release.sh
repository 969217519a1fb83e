#!/usr/bin/env bash
# scripts/build-release.sh [SCRATCH] — the release build of kzforensics that the demo and the benchmarks run.
# The binary is SCRATCH/release/kzforensics; SCRATCH defaults to .build.
#
# Beyond `swift build -c release`, four link-time choices that change what the binary maps, not what it computes
# (the 1 GiB reference report is byte-identical with and without them):
#   --static-swift-stdlib           the Swift runtime and Foundation linked in: a self-contained binary, and fewer
#                                   pages mapped than with the shared libraries (29 -> 24 MiB file-backed).
#   -function-sections + lld's --symbol-ordering-file=scripts/symbol-order.txt
#                                   every function in its own section, and the functions a run executes (recorded by
#                                   scripts/symbol-order.py) laid out together at the start of .text. Without it the
#                                   ~2 MB of code a run executes is spread over 21 MB of .text and the kernel's
#                                   fault-around maps each 64 KiB window around it: ~13 MB of the binary resident.
#   --no-export-dynamic             the executable's own symbols are not exported (Swift's driver exports them by
#                                   default); nothing resolves them at run time, and the loader no longer touches
#                                   2.2 MB of symbol relocations and tables at start.
#   -z pack-relative-relocs         the remaining relative relocations in RELR form (when glibc >= 2.36 runs here).
# Measured effect on peak RSS: README, "Development", the "Measured" paragraphs.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
scratch=${1:-$root/.build}

flags=(-c release --static-swift-stdlib --product kzforensics --scratch-path "$scratch")
# lld ships with the Swift toolchains for Linux (beside swift); without it, a plain static build.
swift_bin=$(dirname "$(readlink -f "$(command -v swift || echo swift)")")
if [[ -x "$swift_bin/ld.lld" ]] || command -v ld.lld >/dev/null; then
    flags+=(-Xswiftc -Xfrontend -Xswiftc -function-sections -Xcc -ffunction-sections
            -Xswiftc -use-ld=lld
            -Xlinker --no-export-dynamic
            -Xlinker "--symbol-ordering-file=$root/scripts/symbol-order.txt" -Xlinker --no-warn-symbol-ordering)
    glibc=$(getconf GNU_LIBC_VERSION 2>/dev/null | awk '{print $2}')
    if [[ -n "$glibc" ]] && printf '2.36\n%s\n' "$glibc" | sort -V -C; then
        flags+=(-Xlinker -z -Xlinker pack-relative-relocs)
    fi
else
    echo "build-release: ld.lld not found beside swift or on PATH: building without the code layout" >&2
fi
cd "$root"
# SwiftPM does not know the ordering list is a link input: relink when the list is newer than the binary.
bin="$scratch/release/kzforensics"
if [[ -e "$bin" && "$root/scripts/symbol-order.txt" -nt "$bin" ]]; then rm -f "$bin"; fi
swift build "${flags[@]}"

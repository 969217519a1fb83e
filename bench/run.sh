#!/usr/bin/env bash
# Throughput of kzforensics' capture reading and decoding, next to tcpdump's record copy, on one file.
#
#   bench/run.sh [FILE]      FILE defaults to a 200 MiB capture made by bench/gen_capture.py (seed 2025)
#   RUNS=5 bench/run.sh F    repetitions per measurement (best wall time is kept; default 3)
#
# Builds the release binary (.build-release), warms the page cache, then times with /usr/bin/time -v:
#   read-only        kzforensics packets F --format summary --no-decode   (records walked, not decoded)
#   decode native    kzforensics packets F --format summary               (mmap walker + full decode, accounting)
#   decode libpcap   kzforensics packets F --format summary --reader libpcap
#   tcpdump copy     tcpdump -n -r F -w /dev/null
# and prints MB/s and packets/s per wall second and per CPU second (user+sys), and peak RSS. All are single-threaded.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=${RUNS:-3}
file=${1:-}
if [ -z "$file" ]; then
    file=/tmp/kz-bench-200M-2025.pcap
    [ -f "$file" ] || python3 "$root/bench/gen_capture.py" --size 200M --seed 2025 -o "$file"
fi
[ -r "$file" ] || { echo "bench/run.sh: cannot read $file" >&2; exit 1; }
command -v tcpdump >/dev/null || { echo "bench/run.sh: tcpdump not installed (apt-get install -y tcpdump)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "bench/run.sh: /usr/bin/time not installed (apt-get install -y time)" >&2; exit 1; }

bash "$root/scripts/build-release.sh" "$root/.build-release" 2>&1 | tail -1 >&2
bin=$root/.build-release/release/kzforensics

bytes=$(stat -c %s "$file")
cat "$file" > /dev/null                                    # page cache warm for every contender
packets=$("$bin" packets "$file" --format summary --no-decode | sed -n '1s/.*: \([0-9]*\) frames.*/\1/p')
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

echo "file: $file"
echo "size: $bytes bytes ($(awk -v b="$bytes" 'BEGIN{printf "%.1f", b/1e6}') MB), $packets packets; best of $runs runs"
echo "host: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-16s %8s %8s %10s %10s %12s %12s %9s\n' mode wall_s cpu_s MB/s MB/s_cpu pkt/s pkt/s_cpu rss_MB

measure() {   # name, command...
    local name=$1; shift
    local best_wall=0 best_cpu=0 rss=0
    for _ in $(seq "$runs"); do
        /usr/bin/time -v -o "$tmp/t" "$@" > "$tmp/out" 2> "$tmp/err" || { echo "$name failed:"; cat "$tmp/err"; return 1; }
        local wall cpu r
        wall=$(awk -F': ' '/Elapsed \(wall clock\)/{n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$tmp/t")
        cpu=$(awk -F': ' '/User time/{u=$2} /System time/{s=$2} END{print u+s}' "$tmp/t")
        r=$(awk -F': ' '/Maximum resident/{print $2}' "$tmp/t")
        if awk -v w="$wall" -v b="$best_wall" 'BEGIN{exit !(b==0 || w<b)}'; then best_wall=$wall; best_cpu=$cpu; fi
        [ "$r" -gt "$rss" ] && rss=$r
    done
    awk -v n="$name" -v w="$best_wall" -v c="$best_cpu" -v b="$bytes" -v p="$packets" -v r="$rss" 'BEGIN{
        if (w <= 0) w = 0.001; if (c <= 0) c = 0.001;
        printf "%-16s %8.3f %8.3f %10.0f %10.0f %12.0f %12.0f %9.1f\n", n, w, c, b/1e6/w, b/1e6/c, p/w, p/c, r/1024 }'
}

measure "read-only"      "$bin" packets "$file" --format summary --no-decode
measure "decode native"  "$bin" packets "$file" --format summary
measure "decode libpcap" "$bin" packets "$file" --format summary --reader libpcap
measure "tcpdump copy"   tcpdump -n -r "$file" -w /dev/null

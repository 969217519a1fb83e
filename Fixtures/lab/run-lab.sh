#!/bin/bash
# kzforensics censorship lab: a routed path of network namespaces with a censor on a chosen hop.
# Usage: sudo Fixtures/lab/run-lab.sh all|SCENARIO[,SCENARIO...] --out DIR [--censor-hop K] [--inject-ttl T]
#        [--no-verify] [--list]
# See Fixtures/lab/README.md. Only private addresses (10.77.0.0/16, fd77::/16) inside namespaces named kzlab-*.
set -u
LAB_DIR=$(cd "$(dirname "$0")" && pwd)
LIB="$LAB_DIR/lib"
PY=/usr/bin/python3            # Debian python with python3-scapy, not a pyenv python
P=kzlab-
SCENARIOS_ALL="baseline http_rst_inpath http_rst_inpath_v6 http_rst_onpath sni_rst_inpath sni_rst_onpath sni_drop dns_injection \
http_blockpage tls_interception ip_blackhole icmp_prohibited throttling two_vantages \
sweep_http_inpath sweep_http_onpath sweep_sni_onpath sweep_sni_inpath sweep_http_nfqueue sweep_sni_drop \
control_server_rst control_nat_rst control_cdn_rotation control_retransmissions_tls13"
OUT=""; HOP_OVERRIDE=""; TTL_OVERRIDE=""; VERIFY=1; WANT=""
SERVER_DELAY_MS=300   # origin answers late (a far server), so on-path injectors win their race
DNS_DELAY_MS=250      # dnsmasq answers leave the server namespace this late (nfnetlink_queue delayer)

die() { echo "run-lab: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT="$2"; shift 2;;
    --censor-hop) HOP_OVERRIDE="$2"; shift 2;;
    --inject-ttl) TTL_OVERRIDE="$2"; shift 2;;
    --no-verify) VERIFY=0; shift;;
    --list) echo $SCENARIOS_ALL; exit 0;;
    -h|--help) sed -n 2,6p "$0"; exit 0;;
    -*) die "unknown option $1";;
    *) WANT="$1"; shift;;
  esac
done
[ -n "$WANT" ] || die "name a scenario or 'all' (--list shows them)"
[ -n "$OUT" ] || die "--out DIR is required"
[ "$(id -u)" = 0 ] || die "run as root"
if [ "$WANT" = all ]; then WANT="$SCENARIOS_ALL"; else WANT="${WANT//,/ }"; fi
for s in $WANT; do case " $SCENARIOS_ALL " in *" $s "*) ;; *) die "unknown scenario $s";; esac; done
if [ -n "$HOP_OVERRIDE" ]; then [[ "$HOP_OVERRIDE" =~ ^[1-4]$ ]] || die "--censor-hop must be 1..4"; fi
if [ -n "$TTL_OVERRIDE" ]; then [[ "$TTL_OVERRIDE" =~ ^[0-9]+$ ]] && [ "$TTL_OVERRIDE" -ge 1 ] && [ "$TTL_OVERRIDE" -le 255 ] || die "--inject-ttl must be 1..255"; fi
mkdir -p "$OUT" || die "cannot create $OUT"
OUT=$(cd "$OUT" && pwd)
WORK="$OUT/.work"; rm -rf "$WORK"; mkdir -p "$WORK/logs" "$WORK/certs"

exec 9>/run/kzlab.lock
flock -n 9 || die "another lab run holds /run/kzlab.lock"

NSES="c1 c2 r1 r2 r3 r4 r5 a1 a2 srv"
NROUTERS=5
declare -a PIDS=()

ns() { local n="$1"; shift; ip netns exec "${P}$n" "$@"; }

cleanup() {
  trap - EXIT INT TERM
  local p n
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  sleep 0.3
  for n in $NSES; do
    if ip netns list | grep -qw "${P}$n"; then
      for p in $(ip netns pids "${P}$n" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
      ip netns del "${P}$n" 2>/dev/null
    fi
  done
  rm -rf "$WORK/tmp"
}
trap cleanup EXIT
trap 'echo "run-lab: interrupted, cleaning up" >&2; exit 130' INT TERM

bg() {  # bg NS LOGNAME cmd... : start a process inside a namespace, remember its pid
  local n="$1" log="$2"; shift 2
  ip netns exec "${P}$n" "$@" >"$WORK/logs/$log.out" 2>"$WORK/logs/$log.err" &
  PIDS+=($!)
  LAST_PID=$!
}
wait_for() {  # wait_for FILE PATTERN [seconds]
  local i
  for i in $(seq 1 $(( ${3:-10} * 10 ))); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "run-lab: timeout waiting for '$2' in $1" >&2; cat "$1" >&2; return 1
}
stop_pid() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }

# ---------------------------------------------------------------- topology
mkns() {
  local n="$1"
  ip netns add "${P}$n" || die "ip netns add ${P}$n failed (leftover from an earlier run? ip netns del ${P}$n)"
  ns "$n" ip link set lo up
  ns "$n" sysctl -qw net.ipv4.icmp_ratelimit=0 net.ipv6.icmp.ratelimit=0 \
     net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
     net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
     net.ipv6.conf.default.accept_ra=0 net.ipv6.conf.all.accept_ra=0 \
     net.ipv6.conf.default.router_solicitations=0 net.ipv6.conf.all.router_solicitations=0
  case "$n" in r*|a*) ns "$n" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1;; esac
}
link() {  # link NSA IFA V4A V6A NSB IFB V4B V6B  (v4 /24, v6 /64)
  ip link add name "$2" netns "${P}$1" type veth peer name "$6" netns "${P}$5" || die "veth $1/$2-$5/$6"
  local side
  for side in "$1 $2 $3 $4" "$5 $6 $7 $8"; do
    set -- $side
    ns "$1" ethtool -K "$2" tx off rx off >/dev/null 2>&1
    ns "$1" ip addr add "$3/24" dev "$2"
    ns "$1" ip -6 addr add "$4/64" dev "$2" nodad
    ns "$1" ip link set "$2" up
  done
}
build_topology() {
  local n k j
  for n in $NSES; do mkns "$n"; done
  link c1 eth0 10.77.0.2 fd77:0::2   r1 tocli 10.77.0.1 fd77:0::1
  for k in 1 2 3 4; do
    link r$k tosrv 10.77.$k.2 fd77:$k::2   r$((k+1)) tocli 10.77.$k.1 fd77:$k::1
  done
  link r5 tosrv 10.77.9.1 fd77:9::1   srv eth0 10.77.9.2 fd77:9::2
  link c2 eth0 10.77.20.2 fd77:20::2  a1 tocli 10.77.20.1 fd77:20::1
  link a1 tosrv 10.77.21.2 fd77:21::2    a2 tocli 10.77.21.1 fd77:21::1
  link a2 tosrv 10.77.22.2 fd77:22::2    r5 alt 10.77.22.1 fd77:22::1
  for a in 53 54 66 67 70 80 81 82 83; do ns srv ip addr add 10.77.9.$a/24 dev eth0; done
  ns srv ip -6 addr add fd77:9::53/64 dev eth0 nodad
  ns c1 ip route add default via 10.77.0.1;   ns c1 ip -6 route add default via fd77:0::1
  for k in 1 2 3 4; do
    ns r$k ip route add default via 10.77.$k.1; ns r$k ip -6 route add default via fd77:$k::1
    for j in $(seq 0 $((k-2))); do
      ns r$k ip route add 10.77.$j.0/24 via 10.77.$((k-1)).2
      ns r$k ip -6 route add fd77:$j::/64 via fd77:$((k-1))::2
    done
  done
  for j in 0 1 2 3; do ns r5 ip route add 10.77.$j.0/24 via 10.77.4.2; ns r5 ip -6 route add fd77:$j::/64 via fd77:4::2; done
  for j in 20 21; do ns r5 ip route add 10.77.$j.0/24 via 10.77.22.2; ns r5 ip -6 route add fd77:$j::/64 via fd77:22::2; done
  ns a1 ip route add default via 10.77.21.1;  ns a1 ip -6 route add default via fd77:21::1
  ns a2 ip route add default via 10.77.22.1;  ns a2 ip -6 route add default via fd77:22::1
  ns a2 ip route add 10.77.20.0/24 via 10.77.21.2; ns a2 ip -6 route add fd77:20::/64 via fd77:21::2
  ns c2 ip route add default via 10.77.20.1;  ns c2 ip -6 route add default via fd77:20::1
  ns srv ip route add default via 10.77.9.1;  ns srv ip -6 route add default via fd77:9::1
  # warm the neighbour caches so captures hold no ARP/ND
  ns c1 ping -c1 -W2 10.77.9.2 >/dev/null || die "c1 cannot reach the server over IPv4"
  ns c1 ping -6 -c1 -W2 fd77:9::2 >/dev/null || die "c1 cannot reach the server over IPv6"
  ns c2 ping -c1 -W2 10.77.9.2 >/dev/null || die "c2 cannot reach the server"
  ns c2 ping -6 -c1 -W2 fd77:9::2 >/dev/null || die "c2 cannot reach the server over IPv6"
}

# ---------------------------------------------------------------- certificates (fresh test keys every run)
NAMES="allowed.example blocked.kz.example www.blocked.example throttled.kz.example"
make_certs() {
  local C="$WORK/certs" n
  ( cd "$C"
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/C=NL/O=kzlab Origin PKI/CN=kzlab Origin Root CA" \
      -keyout origin-ca.key -out origin-ca.pem 2>/dev/null
    for n in $NAMES; do
      openssl req -newkey rsa:2048 -nodes -keyout "$n.key" -out "$n.csr" \
        -subj "/C=NL/O=Example Media B.V./CN=$n" 2>/dev/null
      printf "subjectAltName=DNS:%s,DNS:*.%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n" "$n" "$n" > "$n.ext"
      openssl x509 -req -in "$n.csr" -CA origin-ca.pem -CAkey origin-ca.key -CAcreateserial -days 30 \
        -extfile "$n.ext" -out "$n.leaf.pem" 2>/dev/null
      cat "$n.leaf.pem" > "$n.pem"
    done
    # the interception PKI named like the Kazakh one (test keys only, made here, thrown away after the run)
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/C=KZ/CN=Qaznet Trust Network" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -keyout kz-root.key -out kz-root.pem 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/C=KZ/CN=Security Certificate" -keyout kz-int.key -out kz-int.csr 2>/dev/null
    printf "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n" > kz-int.ext
    openssl x509 -req -in kz-int.csr -CA kz-root.pem -CAkey kz-root.key -CAcreateserial -days 30 \
      -extfile kz-int.ext -out kz-int.pem 2>/dev/null
    for n in blocked.kz.example www.blocked.example; do
      # the forged leaf copies the real certificate's subject and subjectAltName
      subj=$(openssl x509 -in "$n.leaf.pem" -noout -subject -nameopt compat | sed 's/^subject=//')
      san=$(openssl x509 -in "$n.leaf.pem" -noout -ext subjectAltName | tail -n +2 | sed 's/^ *//')
      openssl req -newkey rsa:2048 -nodes -keyout "forged-$n.key" -out "forged-$n.csr" -subj "$subj" 2>/dev/null
      printf "subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n" "$san" > "forged-$n.ext"
      openssl x509 -req -in "forged-$n.csr" -CA kz-int.pem -CAkey kz-int.key -CAcreateserial -days 30 \
        -extfile "forged-$n.ext" -out "forged-$n.leaf.pem" 2>/dev/null
      cat "forged-$n.leaf.pem" kz-int.pem > "forged-$n.pem"
    done
    cat origin-ca.pem kz-root.pem > trust-with-kz-root.pem
  ) || die "certificate generation failed"
  [ -s "$C/forged-blocked.kz.example.pem" ] || die "forged chain missing"
}

# ---------------------------------------------------------------- servers
start_servers() {
  bg srv dnsmasq dnsmasq --keep-in-foreground --no-resolv --no-hosts --no-poll --bind-interfaces \
     --listen-address=10.77.9.53 --listen-address=fd77:9::53 --except-interface=lo --user=root --group=root \
     --pid-file="$WORK/dnsmasq.pid" --log-queries --log-facility=- --local-ttl=300 \
     --host-record=allowed.example,10.77.9.2,fd77:9::2 \
     --host-record=blocked.kz.example,10.77.9.2,fd77:9::2 \
     --host-record=www.blocked.example,10.77.9.2,fd77:9::2 \
     --host-record=throttled.kz.example,10.77.9.2,fd77:9::2 \
     --host-record=blackholed.kz.example,10.77.9.66 \
     --host-record=prohibited.kz.example,10.77.9.67
  bg srv origin $PY "$LIB/servers.py" --addr 10.77.9.2 --addr fd77:9::2 --addr 10.77.9.66 --addr 10.77.9.67 \
     --certdir "$WORK/certs" --names "allowed.example,blocked.kz.example,www.blocked.example,throttled.kz.example" \
     --delay-ms $SERVER_DELAY_MS
  wait_for "$WORK/logs/origin.out" "servers ready" || die "origin servers did not start"
  # negative controls: HTTP servers with their own resets (.70) and CDN edges (.80-.83), a rotating DNS server (.54)
  bg srv control $PY "$LIB/control_tcp.py" server --addr 10.77.9.70 --addr 10.77.9.80 --addr 10.77.9.81 \
     --addr 10.77.9.82 --addr 10.77.9.83
  wait_for "$WORK/logs/control.out" "control servers ready" || die "control servers did not start"
  bg srv dnsrotate $PY "$LIB/dns_rotate.py" --addr 10.77.9.54 --ttls 20,300,60,5,3600,45 \
     --zone cdn.example=10.77.9.80,10.77.9.81,10.77.9.82,10.77.9.83 \
     --zone multi.cdn.example=10.77.9.80+10.77.9.81,10.77.9.82+10.77.9.83,10.77.9.81+10.77.9.80
  wait_for "$WORK/logs/dnsrotate.out" "ready" || die "rotating DNS server did not start"
  ns srv iptables -t mangle -A OUTPUT -p udp --sport 53 -j NFQUEUE --queue-num 5 --queue-bypass
  bg srv nfqdelay $PY "$LIB/nfq_delay.py" --queue 5 --delay-ms $DNS_DELAY_MS
  wait_for "$WORK/logs/nfqdelay.out" "ready" || die "nfq delayer did not start"
  local i; for i in $(seq 1 30); do ns c1 dig +short +time=1 +tries=1 @10.77.9.53 allowed.example >/dev/null 2>&1 && break; sleep 0.2; done
}

# ---------------------------------------------------------------- captures
declare -a CAP_PIDS=()
cap_start() {  # cap_start NS IFACE FILE
  local f="$3" log="cap-$(basename "$(dirname "$3")")-$1"
  # immediate mode makes libpcap use a TPACKET_V2 ring of snaplen-sized slots: with -s 0 that is ~8 slots and
  # bursts get dropped, so use a 4 KiB snaplen (MTU is 1500, offloads are off) and a 32 MiB buffer
  bg "$1" "$log" tcpdump -i "$2" -n -s 4096 -B 32768 -U --immediate-mode -w "$f" \
     'ip or (ip6 and not ip6 proto 0 and not (icmp6 and ip6[40] >= 133 and ip6[40] <= 137))'
  CAP_PIDS+=($LAST_PID)
  wait_for "$WORK/logs/$log.err" "listening on" 5 || die "tcpdump did not start in $1"
}
cap_stop() {
  sleep 0.6
  local p; for p in "${CAP_PIDS[@]}"; do kill -INT "$p" 2>/dev/null; done
  for p in "${CAP_PIDS[@]}"; do wait "$p" 2>/dev/null; done
  CAP_PIDS=()
  local lf
  for lf in "$WORK"/logs/cap-"$SC"-*.err; do
    if ! grep -q "^0 packets dropped by kernel" "$lf"; then
      echo "run-lab: $SC: tcpdump lost packets ($(basename "$lf"): $(grep 'dropped by kernel' "$lf"))" >&2
      CAPTURE_LOSS=1
    fi
  done
}

# ---------------------------------------------------------------- censor helpers
HOP=0; ITTL=0
censor_defaults() { HOP="${HOP_OVERRIDE:-$1}"; ITTL="${TTL_OVERRIDE:-$2}"; }
router_addr() { echo "10.77.$(( $1 - 1 )).1"; }   # address of hop k as seen from the client (its client-facing side)
router_addr6() { [ "$1" = 1 ] && echo "fd77::1" || echo "fd77:$(( $1 - 1 ))::1"; }
censor_reset() {
  local k
  for k in 1 2 3 4 5; do
    ns r$k iptables -F; ns r$k iptables -t mangle -F; ns r$k iptables -t nat -F; ns r$k iptables -t raw -F
    ns r$k ip6tables -F; ns r$k ip6tables -t mangle -F
    ns r$k tc qdisc del dev tocli root 2>/dev/null
  done
  local p; for p in ${CENSOR_PIDS:-}; do stop_pid "$p"; done
  CENSOR_PIDS=""
}
inpath_ttl() {  # locally generated RST/ICMP of the censor router leave with TTL $ITTL
  ns r$HOP iptables -t mangle -A OUTPUT -p tcp --tcp-flags RST RST -j TTL --ttl-set "$ITTL"
  ns r$HOP iptables -t mangle -A OUTPUT -p icmp --icmp-type destination-unreachable -j TTL --ttl-set "$ITTL"
}
start_injector() {  # start_injector MODE MATCH...
  local mode="$1"; shift
  local m args=(); for m in "$@"; do args+=(--match "$m"); done
  bg r$HOP "injector-$SC" $PY "$LIB/injector.py" --iface tocli --mode "$mode" --ttl "$ITTL" \
     --log "$WORK/logs/injections-$SC.jsonl" "${args[@]}"
  CENSOR_PIDS="$CENSOR_PIDS $LAST_PID"
  wait_for "$WORK/logs/injector-$SC.out" "ready" 20 || die "injector did not start"
}
meta() {  # meta STYLE MECHANISM TRIGGER INJECT_TTL(or null) FIRST_TRIGGER(or null)  -> scenario.json for annotate.py
  local style="$1" mech="${2:-}" trig="${3:-}" ittl="${4:-null}" first="${5:-null}"
  if [ "$style" = none ]; then
    echo "{\"scenario\": \"$SC\", \"censor\": null}" > "$SD/.meta.json"
  else
    cat > "$SD/.meta.json" <<JSON
{"scenario": "$SC", "censor": {"hop": $HOP, "router": "$(router_addr $HOP)", "style": "$style",
 "mechanism": "$mech", "inject_ttl": $ittl, "trigger": "$trig", "first_trigger_ttl": $first}}
JSON
  fi
}
curl_c() {  # curl_c NS NAME SCHEME [IP] [PATH] [extra...]
  local n="$1" name="$2" scheme="$3" ip="${4:-10.77.9.2}" path="${5:-/}"; shift 5 2>/dev/null || shift $#
  local port=80; [ "$scheme" = https ] && port=443
  local host="$ip"; [[ "$ip" == *:* ]] && host="[$ip]"
  ns "$n" curl -sS -o /dev/null --http1.1 --max-time 6 -w "$name $scheme %{http_code} %{size_download}B %{time_total}s\n" \
     --cacert "$WORK/certs/${CACERT:-origin-ca.pem}" --resolve "$name:$port:$host" "$@" "$scheme://$name$path" \
     >>"$SD/.clients.log" 2>&1
  echo "exit=$?" >>"$SD/.clients.log"
}

# ---------------------------------------------------------------- scenarios
LIVE_STATES="state established state syn-sent state syn-recv state fin-wait-1 state fin-wait-2 state close-wait state last-ack state closing"
quiesce() {  # let the previous scenario's connections end (retransmissions would leak into the next capture)
  local i n busy
  for i in $(seq 1 20); do
    busy=0
    for n in c1 c2 srv; do [ -n "$(ns $n ss -Htn $LIVE_STATES)" ] && busy=1; done
    [ $busy = 0 ] && break
    sleep 0.1
  done
  if [ $busy = 1 ]; then for n in c1 c2 srv; do ns $n ss -K -Htn $LIVE_STATES >/dev/null; done; fi
  sleep 0.4
}
begin() { quiesce; SC="$1"; SD="$OUT/$SC"; rm -rf "$SD"; mkdir -p "$SD"; censor_reset; echo "== $SC"; }
caps_client_server() { cap_start c1 eth0 "$SD/client.pcap"; cap_start srv eth0 "$SD/server.pcap"; }

sc_baseline() {
  begin baseline; meta none
  caps_client_server
  ns c1 $PY "$LIB/probe.py" traceroute --server 10.77.9.2 --max-ttl 6 >"$SD/.trace.jsonl"
  ns c1 dig +tries=1 +time=2 @10.77.9.53 allowed.example A >>"$SD/.clients.log" 2>&1
  ns c1 dig +tries=1 +time=2 @10.77.9.53 blocked.kz.example A >>"$SD/.clients.log" 2>&1
  curl_c c1 blocked.kz.example http
  curl_c c1 allowed.example http
  curl_c c1 blocked.kz.example https
  curl_c c1 allowed.example https
  curl_c c1 blocked.kz.example http fd77:9::2
  cap_stop
}
sc_http_rst_inpath() {
  begin http_rst_inpath; censor_defaults 3 64
  ns r$HOP iptables -A FORWARD -p tcp --dport 80 -m string --algo bm --string "Host: blocked.kz.example" \
     -j REJECT --reject-with tcp-reset
  inpath_ttl; meta in-path iptables-reject host "$ITTL" $((HOP+1))
  caps_client_server
  curl_c c1 blocked.kz.example http
  curl_c c1 allowed.example http
  cap_stop
}
sc_http_rst_inpath_v6() {
  begin http_rst_inpath_v6; censor_defaults 3 64
  ns r$HOP ip6tables -A FORWARD -p tcp --dport 80 -m string --algo bm --string "Host: blocked.kz.example" \
     -j REJECT --reject-with tcp-reset
  ns r$HOP ip6tables -t mangle -A OUTPUT -p tcp --tcp-flags RST RST -j HL --hl-set "$ITTL"
  meta in-path iptables-reject host "$ITTL" $((HOP+1))
  sed -i "s/\"router\": \"[^\"]*\"/\"router\": \"$(router_addr6 $HOP)\"/" "$SD/.meta.json"
  caps_client_server
  curl_c c1 blocked.kz.example http fd77:9::2
  curl_c c1 allowed.example http fd77:9::2
  cap_stop
}
sc_http_rst_onpath() {
  begin http_rst_onpath; censor_defaults 2 128
  start_injector rst "Host: blocked.kz.example"; meta on-path afpacket-injector host "$ITTL" "$HOP"
  caps_client_server
  curl_c c1 blocked.kz.example http
  curl_c c1 allowed.example http
  cap_stop
}
sc_sni_rst_inpath() {
  begin sni_rst_inpath; censor_defaults 4 64
  ns r$HOP iptables -A FORWARD -p tcp --dport 443 -m string --algo bm --string "blocked.kz.example" \
     -j REJECT --reject-with tcp-reset
  inpath_ttl; meta in-path iptables-reject sni "$ITTL" $((HOP+1))
  caps_client_server
  curl_c c1 blocked.kz.example https
  curl_c c1 allowed.example https
  cap_stop
}
sc_sni_rst_onpath() {
  begin sni_rst_onpath; censor_defaults 3 100
  start_injector rst "blocked.kz.example"; meta on-path afpacket-injector sni "$ITTL" "$HOP"
  caps_client_server
  curl_c c1 blocked.kz.example https
  curl_c c1 allowed.example https
  cap_stop
}
sc_sni_drop() {
  begin sni_drop; censor_defaults 3 64
  ns r$HOP iptables -A FORWARD -p tcp --dport 443 -m string --algo bm --string "blocked.kz.example" -j DROP
  meta in-path iptables-drop sni null $((HOP+1))
  caps_client_server
  curl_c c1 allowed.example https
  curl_c c1 blocked.kz.example https 10.77.9.2 / --max-time 4
  curl_c c1 allowed.example https
  cap_stop
}
sc_dns_injection() {
  begin dns_injection; censor_defaults 2 59
  start_injector dns "blocked" ; meta on-path afpacket-injector qname "$ITTL" "$HOP"
  caps_client_server
  ns c1 dig +tries=1 +time=2 @10.77.9.53 blocked.kz.example A >>"$SD/.clients.log" 2>&1
  sleep 0.3
  ns c1 dig +tries=1 +time=2 @10.77.9.53 allowed.example A >>"$SD/.clients.log" 2>&1
  cap_stop
}
sc_http_blockpage() {
  begin http_blockpage; censor_defaults 3 64
  start_injector blockpage "Host: blocked.kz.example"; meta on-path afpacket-injector host "$ITTL" "$HOP"
  caps_client_server
  curl_c c1 blocked.kz.example http
  curl_c c1 allowed.example http
  cap_stop
}
sc_tls_interception() {
  begin tls_interception; censor_defaults 2 64
  ns r$HOP iptables -t nat -A PREROUTING -i tocli -p tcp -d 10.77.9.2 --dport 443 -j REDIRECT --to-ports 8443
  bg r$HOP "mitm-$SC" $PY "$LIB/mitm.py" --port 8443 --ttl "$ITTL" --certdir "$WORK/certs" \
     --intercept blocked.kz.example --intercept www.blocked.example --origin-ca "$WORK/certs/origin-ca.pem" \
     --log "$WORK/logs/mitm-$SC.jsonl"
  CENSOR_PIDS="$CENSOR_PIDS $LAST_PID"
  wait_for "$WORK/logs/mitm-$SC.out" "mitm ready" || die "mitm did not start"
  meta in-path tls-proxy sni "$ITTL" "$HOP"
  caps_client_server
  CACERT=trust-with-kz-root.pem curl_c c1 blocked.kz.example https
  curl_c c1 allowed.example https
  mkdir -p "$SD/certs"; cp "$WORK/certs/kz-root.pem" "$WORK/certs/kz-int.pem" "$WORK/certs/origin-ca.pem" "$SD/certs/"
  cap_stop
}
sc_ip_blackhole() {
  begin ip_blackhole; censor_defaults 3 64
  ns r$HOP iptables -A FORWARD -d 10.77.9.66 -j DROP
  meta in-path iptables-drop ip null $((HOP+1))
  caps_client_server
  curl_c c1 blackholed.kz.example http 10.77.9.66 / --connect-timeout 3
  curl_c c1 allowed.example http
  cap_stop
}
sc_icmp_prohibited() {
  begin icmp_prohibited; censor_defaults 4 64
  ns r$HOP iptables -A FORWARD -d 10.77.9.67 -p tcp --syn -j REJECT --reject-with icmp-admin-prohibited
  inpath_ttl; meta in-path iptables-reject ip "$ITTL" $((HOP+1))
  caps_client_server
  curl_c c1 prohibited.kz.example http 10.77.9.67 / --connect-timeout 3
  curl_c c1 allowed.example http
  cap_stop
}
sc_throttling() {
  begin throttling; censor_defaults 3 64
  # mark the connection whose ClientHello names the throttled host; shape its packets toward the client
  ns r$HOP iptables -t mangle -A FORWARD -i tocli -p tcp --dport 443 -m string --algo bm --string "throttled.kz.example" \
     -j CONNMARK --set-mark 7
  ns r$HOP iptables -t mangle -A FORWARD -o tocli -m connmark --mark 7 -j CLASSIFY --set-class 1:20
  ns r$HOP tc qdisc add dev tocli root handle 1: htb default 10
  ns r$HOP tc class add dev tocli parent 1: classid 1:10 htb rate 1gbit quantum 200000
  ns r$HOP tc class add dev tocli parent 1: classid 1:20 htb rate 400kbit ceil 400kbit
  ns r$HOP tc qdisc add dev tocli parent 1:20 handle 20: tbf rate 400kbit burst 3000 latency 300ms
  meta in-path tbf sni null null
  caps_client_server
  curl_c c1 throttled.kz.example https 10.77.9.2 /download/60000 &
  local cp=$!
  sleep 0.3
  curl_c c1 allowed.example https 10.77.9.2 /download/60000
  wait $cp
  cap_stop
}
sc_two_vantages() {
  begin two_vantages; censor_defaults 2 64
  ns r$HOP iptables -A FORWARD -p tcp --dport 80 -m string --algo bm --string "Host: blocked.kz.example" \
     -j REJECT --reject-with tcp-reset
  inpath_ttl; meta in-path iptables-reject host "$ITTL" $((HOP+1))
  cap_start c1 eth0 "$SD/client.pcap"; cap_start c2 eth0 "$SD/client2.pcap"; cap_start srv eth0 "$SD/server.pcap"
  curl_c c1 blocked.kz.example http
  curl_c c2 blocked.kz.example http
  curl_c c1 allowed.example http
  curl_c c2 allowed.example http
  cap_stop
}
sweep() {  # sweep KIND STYLE DEFAULT_HOP DEFAULT_TTL   (STYLE: in-path | on-path | nfqueue | drop)
  local kind="$1" style="$2" port=80 trig=host pat="Host: blocked.kz.example" wait=0.7
  censor_defaults "$3" "$4"
  [ "$kind" = tls ] && { port=443; trig=sni; pat="blocked.kz.example"; }
  case "$style" in
    in-path)
      ns r$HOP iptables -A FORWARD -p tcp --dport $port -m string --algo bm --string "$pat" -j REJECT --reject-with tcp-reset
      inpath_ttl; meta in-path iptables-reject $trig "$ITTL" $((HOP+1));;
    on-path)
      start_injector rst "$pat"; meta on-path afpacket-injector $trig "$ITTL" "$HOP";;
    nfqueue)   # hooked before the TTL check: triggers at TTL = hop and swallows the probe
      ns r$HOP iptables -t raw -A PREROUTING -i tocli -p tcp --dport $port -j NFQUEUE --queue-num 7
      bg r$HOP "nfqcensor-$SC" $PY "$LIB/nfq_censor.py" --queue 7 --match "$pat" --ttl "$ITTL" \
         --log "$WORK/logs/injections-$SC.jsonl"
      CENSOR_PIDS="$CENSOR_PIDS $LAST_PID"
      wait_for "$WORK/logs/nfqcensor-$SC.out" "ready" 20 || die "nfq censor did not start"
      meta in-path nfqueue $trig "$ITTL" "$HOP";;
    drop)      # silent drop on FORWARD; wait long enough for the kernel to retransmit the request
      ns r$HOP iptables -A FORWARD -p tcp --dport $port -m string --algo bm --string "$pat" -j DROP
      wait=1.0; meta in-path iptables-drop $trig null $((HOP+1));;
  esac
  caps_client_server
  ns c1 $PY "$LIB/probe.py" sweep --server 10.77.9.2 --port $port --kind $kind --blocked blocked.kz.example \
     --control allowed.example --max-ttl 7 --wait $wait >"$SD/.sweep.jsonl"
  cap_stop
}
sc_sweep_http_inpath() { begin sweep_http_inpath; sweep http in-path 3 64; }
sc_sweep_http_onpath() { begin sweep_http_onpath; sweep http on-path 2 128; }
sc_sweep_sni_onpath()  { begin sweep_sni_onpath;  sweep tls on-path 4 61; }
sc_sweep_sni_inpath()  { begin sweep_sni_inpath;  sweep tls in-path 2 255; }
sc_sweep_http_nfqueue() { begin sweep_http_nfqueue; sweep http nfqueue 3 200; }
sc_sweep_sni_drop()    { begin sweep_sni_drop;    sweep tls drop 3 64; }

# ---------------------------------------------------------------- negative controls (no censor anywhere)
sc_control_server_rst() {
  begin control_server_rst; meta none
  caps_client_server
  local u
  # (a) closed ports: the server's kernel answers the SYN with RST+ACK (Zeek REJ)
  for u in http://10.77.9.70:81/ http://10.77.9.2:8081/; do
    ns c1 curl -sS -o /dev/null --max-time 3 "$u" >>"$SD/.clients.log" 2>&1; echo "exit=$?" >>"$SD/.clients.log"
  done
  # (b) the page, then the server resets instead of closing (SO_LINGER 0)
  curl_c c1 www.control.example http 10.77.9.70 /linger0
  curl_c c1 allowed.example http 10.77.9.70 /linger0
  # (c) the server aborts a 60 kB response after about 12 kB (SO_LINGER 0 with its data in flight)
  curl_c c1 download.control.example http 10.77.9.70 /abort/60000
  # (d) the server answers and closes with the request body unread: the kernel resets (RFC 1122 4.2.2.13)
  head -c 6000 /dev/zero | tr '\0' x >"$WORK/body.bin"
  curl_c c1 upload.control.example http 10.77.9.70 /unread -H "Expect:" --data-binary @"$WORK/body.bin"
  cap_stop
}
NAT_IDLE=${KZLAB_NAT_IDLE:-35}        # seconds the long-lived connection stays idle (real NAT timeouts: minutes to hours)
NAT_TIMEOUT=${KZLAB_NAT_TIMEOUT:-20}  # the NAT's established-TCP state timeout, shortened from Linux's 5 days
sc_control_nat_rst() {
  begin control_nat_rst; meta none
  # hop 2 is a carrier-grade NAT: the client's flows leave it as 10.77.2.2. Its state expires after NAT_TIMEOUT s of
  # silence; a later segment of such a flow matches no state (tcp_loose=0: no mid-stream pickup), is INVALID, and the
  # router answers it with a RST in the server's name, as stateful firewalls with tcp-reset do.
  ns r2 iptables -t nat -A POSTROUTING -o tosrv -s 10.77.0.0/24 -j MASQUERADE
  ns r2 iptables -A FORWARD -i tocli -p tcp -m conntrack --ctstate INVALID -j REJECT --reject-with tcp-reset
  local loose est
  loose=$(ns r2 sysctl -n net.netfilter.nf_conntrack_tcp_loose)
  est=$(ns r2 sysctl -n net.netfilter.nf_conntrack_tcp_timeout_established)
  ns r2 sysctl -qw net.netfilter.nf_conntrack_tcp_loose=0 net.netfilter.nf_conntrack_tcp_timeout_established=$NAT_TIMEOUT
  caps_client_server
  curl_c c1 allowed.example http 10.77.9.70 /page                 # ordinary NATed traffic
  ns c1 $PY "$LIB/control_tcp.py" idle-client --server 10.77.9.70 --host www.control.example --idle $NAT_IDLE \
     >>"$SD/.clients.log" 2>&1 &
  local idle_pid=$!
  sleep 1
  ns c1 $PY "$LIB/control_tcp.py" idle-client --server 10.77.9.70 --host allowed.example --idle 5 \
     >>"$SD/.clients.log" 2>&1                                    # a short pause: the NAT state is still there
  wait $idle_pid
  curl_c c1 allowed.example http 10.77.9.70 /page                 # a new connection gets new state
  cap_stop
  ns r2 sysctl -qw net.netfilter.nf_conntrack_tcp_loose="$loose" net.netfilter.nf_conntrack_tcp_timeout_established="$est"
}
sc_control_cdn_rotation() {
  begin control_cdn_rotation; meta none
  caps_client_server
  local i ip name
  for name in cdn.example cdn.example cdn.example cdn.example cdn.example cdn.example multi.cdn.example multi.cdn.example; do
    ip=$(ns c1 dig +tries=1 +time=2 +short @10.77.9.54 "$name" A | head -n1)
    echo "$name -> $ip" >>"$SD/.clients.log"
    [ -n "$ip" ] && curl_c c1 "$name" http "$ip" /page
  done
  cap_stop
}
sc_control_retransmissions_tls13() {
  begin control_retransmissions_tls13; meta none
  # hop 3 is a lossy link: it drops, delays (reorders) and duplicates segments, deterministically (lib/nfq_impair.py)
  ns r3 iptables -t mangle -A FORWARD -p tcp -j NFQUEUE --queue-num 9 --queue-bypass
  bg r3 "impair-$SC" $PY "$LIB/nfq_impair.py" --queue 9 --server-port 80 --server-port 443 \
     --log "$WORK/logs/impair-$SC.jsonl"
  CENSOR_PIDS="$CENSOR_PIDS $LAST_PID"
  wait_for "$WORK/logs/impair-$SC.out" "ready" 20 || die "impairer did not start"
  caps_client_server
  curl_c c1 allowed.example http 10.77.9.2 /download/30000
  curl_c c1 allowed.example https 10.77.9.2 /download/30000 --tlsv1.3 --tls-max 1.3
  curl_c c1 blocked.kz.example https 10.77.9.2 /download/30000 --tlsv1.3 --tls-max 1.3
  curl_c c1 blocked.kz.example http 10.77.9.2 /download/30000
  cap_stop
}

# ---------------------------------------------------------------- main
T0=$(date +%s)
echo "run-lab: building topology (namespaces ${P}*)"
build_topology
make_certs
start_servers
FAILED=0
for s in $WANT; do
  CAPTURE_LOSS=0; "sc_$s"
  if [ "$CAPTURE_LOSS" = 1 ]; then echo "run-lab: $s: capture incomplete, running it once more" >&2; censor_reset
    CAPTURE_LOSS=0; "sc_$s"; [ "$CAPTURE_LOSS" = 1 ] && FAILED=1; fi
  censor_reset
  $PY "$LAB_DIR/annotate.py" "$OUT/$s" || { echo "run-lab: annotate failed for $s" >&2; FAILED=1; }
done
echo "run-lab: scenarios done in $(( $(date +%s) - T0 ))s"
if [ "$VERIFY" = 1 ]; then
  $PY "$LAB_DIR/verify.py" "$OUT" || FAILED=1
fi
exit $FAILED

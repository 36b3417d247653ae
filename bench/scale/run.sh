#!/usr/bin/env bash
# bench/scale/run.sh: how Signet copes with a big zone and with many zones, side by side with
# Knot DNS (mod-onlinesign, ECDSA P-256) and NSD (unsigned), on loopback.
#
# Cases (zones from bench/zonegen's presets, reproducible with SEED):
#   big   one zone of NAMES names (preset big: 1,000,000). Each server is started alone and
#         timed until it answers the last name of the file; its peak memory (VmHWM) then.
#         Signet is then reloaded (SIGHUP) onto a copy of the zone with the next serial: the
#         time until the new serial answers, the peak memory during the reload against the
#         steady state before it (VmRSS), and the questions that went unanswered meanwhile
#         (a dig loop on an existing name). Knot is reloaded likewise (knotc zone-reload).
#   many  ZONES small signed zones (preset many: 10,000, six records each). Each server is
#         started (Signet and Knot create a KSK and a ZSK, or one CSK, per zone) and timed
#         until the last zone answers, stopped, and started again (keys loaded) and timed.
#         Memory per zone is the VmRSS after the restart divided by ZONES.
# Each time is also given in CPU seconds (user + system of the server's processes): on a busy
# machine the wall-clock times depend on the other load; compare the CPU ratios then.
# Servers are not pinned: loading may use both cores. Memory is the largest VmHWM/VmRSS of
# the server's processes (NSD forks; its children share the parent's pages).
#
# Usage: bench/scale/run.sh      (prints a Markdown table; the raw figures go to WORK/results.tsv)
# Variables (defaults in brackets): SERVERS ["signet knot nsd"]  CASES ["big many"]
#   NAMES [1000000]  ZONES [10000]  SEED [1]  PORT [5500] (server i listens on PORT+i)
#   READY_TIMEOUT [600] (seconds a start or reload may take before the run fails)
#   WORK [mktemp -d]  KEEP [0] (keep WORK)
# Needs dig (bind9-dnsutils), knotd and knotc (knot), nsd: scripts/install-test-deps.sh installs
# them. Stops every process it started, by PID. Sends traffic only to 127.0.0.1.
set -euo pipefail

die() { echo "run.sh: $*" >&2; exit 1; }
log() { echo "# $*" >&2; }

SERVERS=${SERVERS:-"signet knot nsd"}
CASES=${CASES:-"big many"}
NAMES=${NAMES:-1000000}
ZONES=${ZONES:-10000}
SEED=${SEED:-1}
PORT=${PORT:-5500}
READY_TIMEOUT=${READY_TIMEOUT:-600}
KEEP=${KEEP:-0}
ADDR=127.0.0.1
ZONE=bench.test.

for v in NAMES ZONES SEED PORT READY_TIMEOUT; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number, not '${!v}'"
done
for s in $SERVERS; do case $s in signet | knot | nsd) ;; *) die "unknown server $s" ;; esac; done
for c in $CASES; do case $c in big | many) ;; *) die "unknown case $c" ;; esac; done
for t in dig knotd knotc nsd; do command -v $t >/dev/null || die "$t is missing: run scripts/install-test-deps.sh"; done

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
WORK=${WORK:-$(mktemp -d /tmp/signet-scale.XXXXXX)}
mkdir -p "$WORK"
RESULTS=$WORK/results.tsv
: >"$RESULTS"

STARTED=() # PIDs this script started and has not stopped
cleanup() {
  local p
  for p in "${STARTED[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${STARTED[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ "$KEEP" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

forget() { local p keep=(); for p in "${STARTED[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done; STARTED=("${keep[@]}"); }
stop() { kill -TERM "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; forget "$1"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
record() { printf '%s\n' "$*" | tr ' ' '\t' >>"$RESULTS"; }

# tree PID prints PID and its descendants.
tree() { local c; echo "$1"; for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do tree "$c"; done; }
# mem PID FIELD prints the largest FIELD (VmHWM, VmRSS) of PID's processes, in kB.
mem() {
  local p m=0 v
  for p in $(tree "$1"); do
    v=$(awk -v f="$2:" '$1 == f { print $2 }' "/proc/$p/status" 2>/dev/null || true)
    [ -n "$v" ] && [ "$v" -gt "$m" ] && m=$v
  done
  echo "$m"
}
# cpu PID prints the CPU seconds (user + system) PID's processes have used so far: on a busy
# machine the wall-clock time depends on what else runs, the CPU time much less.
cpu() {
  local p t=0 v
  for p in $(tree "$1"); do
    v=$(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || true)
    [ -n "$v" ] && t=$((t + v))
  done
  awk -v t="$t" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", t / hz }'
}
# clear_peak PID resets VmHWM of PID's processes to their current RSS (proc(5): clear_refs 5).
clear_peak() { local p; for p in $(tree "$1"); do echo 5 >"/proc/$p/clear_refs" 2>/dev/null || true; done; }

# answers PORT NAME TYPE succeeds when the server answers NAME TYPE with data.
# (dig +short still prints its ";;" complaints, a timeout for one.)
answers() { dig +short +norec +time=1 +tries=1 @$ADDR -p "$1" "$2" "$3" 2>/dev/null | grep -qv '^;;'; }
# wait_ready PID PORT NAME [TYPE] waits until NAME answers; fails when PID dies or on timeout.
wait_ready() {
  local pid=$1 port=$2 name=$3 t=${4:-A} start=$SECONDS
  until answers "$port" "$name" "$t"; do
    kill -0 "$pid" 2>/dev/null || die "server $pid died before answering $name"
    [ $((SECONDS - start)) -lt "$READY_TIMEOUT" ] || die "no answer for $name within ${READY_TIMEOUT}s"
    sleep 0.05
  done
}
serial() { dig +short +norec +time=1 +tries=1 @$ADDR -p "$1" "$2" SOA 2>/dev/null | awk '!/^;;/ { print $3 }'; }
wait_serial() {
  local pid=$1 port=$2 zone=$3 want=$4 start=$SECONDS
  until [ "$(serial "$port" "$zone")" = "$want" ]; do
    kill -0 "$pid" 2>/dev/null || die "server $pid died while reloading"
    [ $((SECONDS - start)) -lt "$READY_TIMEOUT" ] || die "serial $want not served within ${READY_TIMEOUT}s"
    sleep 0.05
  done
}

port_of() {
  local i=0 s
  for s in signet knot nsd; do [ "$s" = "$1" ] && { echo $((PORT + i)); return; }; i=$((i + 1)); done
}

# ---- configurations: conf_X DIR PORT ZONELIST writes X's configuration for the zones of
# ZONELIST ("origin file" lines); start_X DIR starts X and sets SPID ----

conf_signet() {
  {
    echo "listen: [\"$ADDR:$2\"]"
    echo "state: $1/state"
    echo "admin: {addr: \"off\", socket: \"off\"}"
    echo "reload: {watch: false}"
    echo "dnssec: {enabled: true}"
    echo "zones:"
    awk '{ printf "  - {origin: \"%s\", file: \"%s\"}\n", $1, $2 }' "$3"
  } >"$1/signet.yaml"
}
start_signet() { "$WORK/bin/signet" serve --config "$1/signet.yaml" >>"$1/server.log" 2>&1 & SPID=$!; STARTED+=("$SPID"); }

conf_knot() {
  mkdir -p "$1/db" "$1/kasp"
  cat >"$1/knot.conf" <<EOF
server:
    listen: $ADDR@$2
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
    rundir: $1
    pidfile: $1/knot.pid
log:
  - target: stderr
    any: warning
control:
    listen: $1/knot.sock
database:
    storage: $1/db
    kasp-db: $1/kasp
policy:
  - id: p13
    algorithm: ecdsap256sha256
    single-type-signing: on
mod-onlinesign:
  - id: os13
    policy: p13
template:
  - id: default
    storage: $1
    journal-content: none
    zonefile-sync: -1
    module: mod-onlinesign/os13
zone:
EOF
  awk '{ printf "  - domain: %s\n    file: %s\n", $1, $2 }' "$3" >>"$1/knot.conf"
}
start_knot() { knotd -c "$1/knot.conf" >>"$1/server.log" 2>&1 & SPID=$!; STARTED+=("$SPID"); }

conf_nsd() {
  cat >"$1/nsd.conf" <<EOF
server:
    ip-address: $ADDR@$2
    server-count: 1
    username: ""
    chroot: ""
    zonesdir: "$1"
    pidfile: "$1/nsd.pid"
    xfrdfile: "$1/xfrd.state"
    zonelistfile: "$1/zone.list"
    database: ""
    logfile: "$1/server.log"
    rrl-ratelimit: 0
remote-control:
    control-enable: no
EOF
  awk '{ printf "zone:\n    name: %s\n    zonefile: \"%s\"\n", $1, $2 }' "$3" >>"$1/nsd.conf"
}
start_nsd() { nsd -d -c "$1/nsd.conf" >>"$1/server.log" 2>&1 & SPID=$!; STARTED+=("$SPID"); }

# ---- the cases ----

case_big() {
  log "generating the big zone ($NAMES names, seed $SEED)"
  (cd "$REPO" && go run ./bench/zonegen -preset big -names "$NAMES" -seed "$SEED" -out "$WORK/big" >/dev/null)
  local zf=$WORK/big/${ZONE%.}.zone last s dir port t0 ready hwm c
  last=$(awk '$4 == "A" { n = $1 } END { print n }' "$zf")
  for s in $SERVERS; do
    dir=$WORK/big-$s port=$(port_of "$s")
    mkdir -p "$dir"
    cp "$zf" "$dir/zone"
    echo "$ZONE $dir/zone" >"$dir/zones.txt"
    "conf_$s" "$dir" "$port" "$dir/zones.txt"
    t0=$(now)
    "start_$s" "$dir"
    wait_ready "$SPID" "$port" "$last"
    ready=$(since "$t0")
    hwm=$(mem "$SPID" VmHWM)
    c=$(cpu "$SPID")
    log "big $s: ready in ${ready}s (${c} CPU s), VmHWM $((hwm / 1024)) MB"
    record big "$s" ready "$ready" cpu "$c" hwm_kb "$hwm"
    case $s in signet | knot) reload_big "$s" "$dir" "$port" ;; esac
    stop "$SPID"
  done
}

# reload_big SERVER DIR PORT swaps in the zone with serial 2 and reloads it while a dig loop
# asks for an existing name.
reload_big() {
  local s=$1 dir=$2 port=$3 steady t0 took hwm probe misses c0
  sleep 2 # let the start's garbage be collected before the steady-state figure
  steady=$(mem "$SPID" VmRSS)
  awk '$4 == "SOA" && !done { $7 = $7 + 1; done = 1 } { print }' "$dir/zone" >"$dir/zone.next"
  mv "$dir/zone.next" "$dir/zone"
  clear_peak "$SPID"
  c0=$(cpu "$SPID")
  (
    n=0 miss=0 until=$((SECONDS + READY_TIMEOUT))
    while [ ! -e "$dir/probe.stop" ] && [ $n -lt 100000 ] && [ $SECONDS -lt $until ]; do
      answers "$port" "www.$ZONE" A || miss=$((miss + 1))
      n=$((n + 1))
    done
    echo "$n $miss" >"$dir/probe.out"
  ) &
  probe=$!
  STARTED+=("$probe") # stopped by cleanup should the reload fail
  t0=$(now)
  case $s in
    signet) kill -HUP "$SPID" ;;
    knot) knotc -c "$dir/knot.conf" zone-reload "$ZONE" >/dev/null ;;
  esac
  wait_serial "$SPID" "$port" "$ZONE" 2
  took=$(since "$t0")
  hwm=$(mem "$SPID" VmHWM)
  c0=$(awk -v a="$c0" -v b="$(cpu "$SPID")" 'BEGIN { printf "%.1f", b - a }')
  touch "$dir/probe.stop"
  wait "$probe"
  forget "$probe"
  read -r _ misses <"$dir/probe.out"
  log "big $s: reload in ${took}s, VmHWM $((hwm / 1024)) MB over a steady $((steady / 1024)) MB, $misses questions unanswered of $(cut -d' ' -f1 "$dir/probe.out")"
  record big "$s" reload "$took" reload_cpu "$c0" reload_hwm_kb "$hwm" steady_kb "$steady" probes "$(cut -d' ' -f1 "$dir/probe.out")" misses "$misses"
}

case_many() {
  log "generating $ZONES small zones"
  (cd "$REPO" && go run ./bench/zonegen -preset many -zones "$ZONES" -out "$WORK/many" >/dev/null)
  local list=$WORK/many/zones.txt last s dir port t0 first again rss hwm c1 c2
  last=$(tail -1 "$list" | cut -d' ' -f1)
  for s in $SERVERS; do
    dir=$WORK/many-$s port=$(port_of "$s")
    mkdir -p "$dir"
    "conf_$s" "$dir" "$port" "$list"
    t0=$(now)
    "start_$s" "$dir"
    wait_ready "$SPID" "$port" "www.$last"
    first=$(since "$t0")
    hwm=$(mem "$SPID" VmHWM)
    c1=$(cpu "$SPID")
    stop "$SPID"
    t0=$(now)
    "start_$s" "$dir"
    wait_ready "$SPID" "$port" "www.$last"
    again=$(since "$t0")
    c2=$(cpu "$SPID")
    sleep 1
    rss=$(mem "$SPID" VmRSS)
    # The first zone must answer too, and signed where the server signs.
    if [ "$s" != nsd ]; then
      dig +norec +dnssec +time=2 +tries=1 @$ADDR -p "$port" "www.$(head -1 "$list" | cut -d' ' -f1)" A |
        grep -q 'RRSIG' || die "$s: the first zone's answer is not signed"
    fi
    stop "$SPID"
    log "many $s: start ${first}s (${c1} CPU s), restart ${again}s (${c2} CPU s), VmHWM $((hwm / 1024)) MB, $((rss / ZONES)) kB a zone"
    record many "$s" start "$first" start_cpu "$c1" restart "$again" restart_cpu "$c2" hwm_kb "$hwm" rss_kb "$rss"
  done
}

log "building signet"
(cd "$REPO" && go build -o "$WORK/bin/signet" ./cmd/signet)
for c in $CASES; do "case_$c"; done

# ---- the table ----
awk -F'\t' -v zones="$ZONES" -v names="$NAMES" '
  function mb(kb) { return sprintf("%.0f", kb / 1024) }
  function ratio(a, b) { return (b > 0 && a != "") ? sprintf("%.2f", a / b) : "-" }
  function dash(x) { return x == "" ? "-" : x }
  { for (i = 3; i < NF; i += 2) v[$1, $2, $i] = $(i + 1); seen[$1, $2] = 1; if (!($2 in order)) { order[$2] = ++n; name[n] = $2 } }
  END {
    printf "| case | server | ready s | CPU s | CPU x Knot | VmHWM MB | x Knot | reload s | reload CPU s | reload VmHWM MB | steady MB | unanswered during reload |\n"
    printf "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n"
    for (j = 1; j <= n; j++) { s = name[j]; if (!seen["big", s]) continue
      printf "| big (%d names) | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", names, s, v["big", s, "ready"], v["big", s, "cpu"], ratio(v["big", s, "cpu"], v["big", "knot", "cpu"]),
        mb(v["big", s, "hwm_kb"]), ratio(v["big", s, "hwm_kb"], v["big", "knot", "hwm_kb"]),
        dash(v["big", s, "reload"]), dash(v["big", s, "reload_cpu"]), (v["big", s, "reload_hwm_kb"] == "" ? "-" : mb(v["big", s, "reload_hwm_kb"])),
        (v["big", s, "steady_kb"] == "" ? "-" : mb(v["big", s, "steady_kb"])), (v["big", s, "probes"] == "" ? "-" : v["big", s, "misses"] " of " v["big", s, "probes"]) }
    printf "\n| case | server | start s | CPU s | CPU x Knot | restart s | CPU s | CPU x Knot | VmHWM MB | kB a zone |\n"
    printf "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n"
    for (j = 1; j <= n; j++) { s = name[j]; if (!seen["many", s]) continue
      printf "| many (%d zones) | %s | %s | %s | %s | %s | %s | %s | %s | %.0f |\n", zones, s, v["many", s, "start"], v["many", s, "start_cpu"], ratio(v["many", s, "start_cpu"], v["many", "knot", "start_cpu"]),
        v["many", s, "restart"], v["many", s, "restart_cpu"], ratio(v["many", s, "restart_cpu"], v["many", "knot", "restart_cpu"]), mb(v["many", s, "hwm_kb"]), v["many", s, "rss_kb"] / zones }
  }' "$RESULTS"
echo
echo "- $(date -u +%Y-%m-%d), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- signet $(cd "$REPO" && git rev-parse --short HEAD); $(knotd -V 2>&1 | head -1); $(nsd -v 2>&1 | head -1)"

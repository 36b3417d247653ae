#!/usr/bin/env bash
# bench/load/run.sh: Signet side by side with its peers under dnsperf, on loopback.
#
# Each server signs online with algorithm 13 (ECDSA P-256):
#   signet        signet serve --dnssec (compact denial by default; BENCH_SIGNET_ARGS adds flags)
#   signet-base   the same, built from another revision (BENCH_SIGNET_BASE): see "Two builds"
#   knot          Knot DNS with mod-onlinesign (one CSK)
#   pdns          PowerDNS, bind backend + DNSSEC db, live signing, NSEC3 narrow (white lies),
#                 packet cache on (the default)
#   pdns-nocache  the same with the packet and query caches off
#   nsd           NSD, unsigned: the ceiling of a server that signs nothing
#   bind          BIND 9 with inline signing (pre-signed reference; optional, not in the default)
# One server runs at a time, pinned to SERVER_CPU; dnsperf runs pinned to CLIENT_CPU.
# Before measuring, one positive and one negative answer from each signed server must
# validate in delv with the zone's DS as the only trust anchor.
#
# Query mixes (files from bench/zonegen, reproducible with SEED):
#   existing  existing names, DO set
#   missing   unique random missing names, DO set (no cache can answer them)
#   mix       60% existing, 25% missing, 5% wildcard, 5% NODATA, 5% referral, DO set
#   nodo      existing names without DO
#   flood     existing names alone, then again while a second dnsperf sends unique missing
#             names as fast as it can; reports the ratio of the two
# Every (server, mix, run) starts a fresh server process, warms it with WARMUP seconds of
# existing names, then measures DURATION seconds, so that no cache carries unique names
# from one run into the next. Each case runs RUNS times; the tables show medians.
# Server CPU is utime+stime (+ reaped children) of the server's whole process tree
# over the measured seconds, from /proc/PID/stat.
#
# Two builds: BENCH_SIGNET_BASE=REV (any git revision of this repository) also builds REV
# (extracted with git archive into the work directory, built with the same go build as the
# current tree) and runs it as server signet-base beside signet, the working tree's build.
# The two alternate run by run on the same zone and query files (odd runs base first, even
# runs current first, so that a drift of the machine's load hits both), and the report adds
# the ratio current/base per mix: of the medians and of each run's pair.
#
# Usage: bench/load/run.sh [--smoke]
#   --smoke   DURATION=1 RUNS=1 WARMUP=0 SERVERS=signet (a check that the harness works)
# Example, the working tree against commit 3a001c5, Signet alone:
#   BENCH_SIGNET_BASE=3a001c5 MIXES="existing missing" RUNS=4 bash bench/load/run.sh
# Variables (defaults in brackets):
#   DURATION [10]  RUNS [3]  WARMUP [2]  SERVERS ["signet knot pdns pdns-nocache nsd"]
#   MIXES ["existing missing mix nodo flood"]  PORT [5400] (server i listens on PORT+i,
#   Signet's admin API on PORT+100)  SEED [1]  NAMES [10000]  NAME_RATE [200000] (unique
#   names generated per second of DURATION; a run that sends more repeats names and says so)
#   SERVER_CPU [1]  CLIENT_CPU [0]  FLOOD_CPU [CLIENT_CPU]  FLOOD_FG_QPS [0 = unlimited]
#   CLIENTS [4]  OUTSTANDING [100]  TIMEOUT [2]  WORK [mktemp -d]  KEEP [0] (keep WORK)
# (Signet's own settings come from SIGNET_* variables, hence the BENCH_ prefix here.)
#   BENCH_SIGNET_ARGS [""] (extra flags for signet serve, e.g. "--denial whitelies"; both builds)
#   BENCH_SIGNET_BASE [""] (a git revision to run as signet-base beside signet; SERVERS then
#   defaults to "signet" and must hold it)
#   BENCH_SIGNET_PROFILE [0] (1: a CPU profile of each Signet build over each measured run but
#   the flood, from /debug/pprof on its control socket, saved as WORK/NAME/MIX-RUN.pprof; with
#   KEEP=1 to read them, e.g. go tool pprof -top WORK/bin/signet WORK/signet/missing-1.pprof)
#   BENCH_SIGNET_ANCHOR [ds] (ds: trust anchor from `signet ds`, which is also checked against the
#   served DNSKEY; served: from the served DNSKEY alone, for builds without `signet ds`)
#   BENCH_SIGNET_DNSSEC [1] (0: Signet serves the zone unsigned, a match for NSD's ceiling)
#   BENCH_PDNS_DENIAL [narrow] (narrow: PowerDNS NSEC3 narrow, white lies made per query;
#   nsec: its plain NSEC chain, the peer of Signet's --denial nsec)
# Needs root only to install missing Debian packages. Stops every process it started, by
# PID. Sends traffic only to 127.0.0.1.
set -euo pipefail

# Messages go to fd 3, a copy of stderr, so that they still reach the terminal when the EXIT
# trap fires inside a function whose output is redirected to a file.
exec 3>&2
die() { echo "run.sh: $*" >&3; exit 1; }
log() { echo "# $*" >&3; }

SMOKE=0
for arg in "$@"; do
  case $arg in
    --smoke) SMOKE=1 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $arg (try --help)" ;;
  esac
done

DURATION=${DURATION:-10}
RUNS=${RUNS:-3}
WARMUP=${WARMUP:-2}
BENCH_SIGNET_BASE=${BENCH_SIGNET_BASE:-}
if [ -n "$BENCH_SIGNET_BASE" ]; then
  SERVERS=${SERVERS:-signet}
else
  SERVERS=${SERVERS:-"signet knot pdns pdns-nocache nsd"}
fi
MIXES=${MIXES:-"existing missing mix nodo flood"}
if [ "$SMOKE" = 1 ]; then
  DURATION=1 RUNS=1 WARMUP=0 SERVERS=signet
fi
PORT=${PORT:-5400}
SEED=${SEED:-1}
NAMES=${NAMES:-10000}
NAME_RATE=${NAME_RATE:-200000}
SERVER_CPU=${SERVER_CPU:-1}
CLIENT_CPU=${CLIENT_CPU:-0}
FLOOD_CPU=${FLOOD_CPU:-$CLIENT_CPU}
FLOOD_FG_QPS=${FLOOD_FG_QPS:-0}
CLIENTS=${CLIENTS:-4}
OUTSTANDING=${OUTSTANDING:-100}
TIMEOUT=${TIMEOUT:-2}
KEEP=${KEEP:-0}
BENCH_SIGNET_ARGS=${BENCH_SIGNET_ARGS:-}
BENCH_SIGNET_ANCHOR=${BENCH_SIGNET_ANCHOR:-ds}
BENCH_SIGNET_DNSSEC=${BENCH_SIGNET_DNSSEC:-1}
BENCH_PDNS_DENIAL=${BENCH_PDNS_DENIAL:-narrow}
BENCH_SIGNET_PROFILE=${BENCH_SIGNET_PROFILE:-0}
ZONE=bench.test.
ADDR=127.0.0.1 # the only address this script ever sends to

for v in DURATION RUNS WARMUP PORT SEED NAMES NAME_RATE SERVER_CPU CLIENT_CPU FLOOD_CPU \
  FLOOD_FG_QPS CLIENTS OUTSTANDING TIMEOUT; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number, not '${!v}'"
done
{ [ "$DURATION" -ge 1 ] && [ "$RUNS" -ge 1 ]; } || die "DURATION and RUNS must be at least 1"
case $BENCH_SIGNET_ANCHOR in ds | served) ;; *) die "BENCH_SIGNET_ANCHOR must be ds or served" ;; esac
case $BENCH_SIGNET_DNSSEC in 0 | 1) ;; *) die "BENCH_SIGNET_DNSSEC must be 0 or 1" ;; esac
case $BENCH_PDNS_DENIAL in narrow | nsec) ;; *) die "BENCH_PDNS_DENIAL must be narrow or nsec" ;; esac
case $BENCH_SIGNET_PROFILE in 0 | 1) ;; *) die "BENCH_SIGNET_PROFILE must be 0 or 1" ;; esac
for s in $SERVERS; do
  case $s in signet | knot | pdns | pdns-nocache | nsd | bind) ;; *) die "unknown server $s" ;; esac
done
for m in $MIXES; do
  case $m in existing | missing | mix | nodo | flood) ;; *) die "unknown mix $m" ;; esac
done

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BASE_COMMIT=''
if [ -n "$BENCH_SIGNET_BASE" ]; then
  case " $SERVERS " in *" signet "*) ;; *) die "BENCH_SIGNET_BASE needs signet in SERVERS" ;; esac
  BASE_COMMIT=$(git -C "$REPO" rev-parse --verify --quiet "$BENCH_SIGNET_BASE^{commit}") ||
    die "BENCH_SIGNET_BASE: $BENCH_SIGNET_BASE is not a commit of $REPO"
fi
WORK=${WORK:-$(mktemp -d /tmp/signet-bench.XXXXXX)}
mkdir -p "$WORK"
RESULTS=$WORK/results.tsv
FAILED=() # servers that could not be set up or validated

# ---- process bookkeeping: every process we start is recorded and stopped by PID ----

STARTED=() # PIDs of the processes this script started and has not yet stopped

# descendants PID prints PID's descendants, children first.
descendants() {
  local c
  for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do
    echo "$c"
    descendants "$c"
  done
}

# stop_pid PID stops PID and its descendants (a forking server's workers), politely first.
stop_pid() {
  local pid=$1 all p i
  all="$pid $(descendants "$pid" | tr '\n' ' ')"
  for p in $all; do kill -TERM "$p" 2>/dev/null || true; done
  for i in $(seq 50); do
    local left=0
    for p in $all; do alive "$p" && left=1; done
    [ $left = 0 ] && break
    sleep 0.1
  done
  for p in $all; do kill -KILL "$p" 2>/dev/null || true; done
  wait "$pid" 2>/dev/null || true
  local keep=()
  for p in "${STARTED[@]}"; do [ "$p" = "$pid" ] || keep+=("$p"); done
  STARTED=("${keep[@]}")
}

cleanup() {
  local rc=$?
  for p in "${STARTED[@]}"; do stop_pid "$p"; done
  if [ "$KEEP" = 1 ] || [ $rc != 0 ]; then
    log "work directory kept: $WORK"
  else
    rm -rf "$WORK"
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# cpu_ticks PID prints the CPU clock ticks (user+system, plus reaped children) of PID and
# its descendants. /proc/PID/stat of a thread-group leader already sums its threads.
cpu_ticks() {
  local sum=0 p line f
  for p in "$1" $(descendants "$1"); do
    line=$(cat "/proc/$p/stat" 2>/dev/null) || continue
    # Fields after the command name "(...)", which may itself hold spaces: state is
    # f[0], so utime, stime, cutime, cstime (fields 14-17 of proc(5)) are f[11..14].
    read -ra f <<<"${line##*) }"
    sum=$((sum + f[11] + f[12] + f[13] + f[14]))
  done
  echo $sum
}
CLK_TCK=$(getconf CLK_TCK)

# snapshot prints four counters: the ticks of the server's tree, of this script's reaped
# children (the dnsperf that has just run), the busy ticks of the server's and the client's
# CPUs, and the clock in ns. Busy time that none of ours accounts for is load from other
# processes on the machine.
snapshot() {
  local line f
  line=$(cat /proc/$$/stat)
  read -ra f <<<"${line##*) }"
  echo "$(cpu_ticks "$SPID") $((f[13] + f[14])) $(awk -v a="cpu$SERVER_CPU" -v b="cpu$CLIENT_CPU" \
    '$1 == a || $1 == b { s += $2 + $3 + $4 + $7 + $8 + $9 } END { print s + 0 }' /proc/stat) $(date +%s%N)"
}

# contention S0 S1 prints the share (%) of the server's and the client's CPUs that other
# processes used between two snapshots.
contention() {
  local a b
  read -ra a <<<"$1"
  read -ra b <<<"$2"
  local cpus=2
  [ "$SERVER_CPU" = "$CLIENT_CPU" ] && cpus=1
  awk -v busy=$((b[2] - a[2])) -v ours=$((b[0] - a[0] + b[1] - a[1])) -v ns=$((b[3] - a[3])) -v hz="$CLK_TCK" -v n=$cpus \
    'BEGIN { f = (busy - ours) / (ns / 1e9 * hz * n) * 100; printf "%.1f", f < 0 ? 0 : f }'
}

# ---- packages ----

pkg_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

# daemon_pids prints the PIDs of running processes named like the packaged DNS daemons.
daemon_pids() {
  local n
  for n in knotd pdns_server nsd named; do pgrep -x "$n" || true; done | tr '\n' ' '
}

install_packages() {
  local want=(dnsperf bind9-dnsutils bind9-utils util-linux) need=() p s
  [ "$BENCH_SIGNET_PROFILE" = 1 ] && want+=(curl)
  for s in $SERVERS; do
    case $s in
      knot) want+=(knot) ;;
      pdns | pdns-nocache) want+=(pdns-server pdns-backend-bind pdns-tools) ;;
      nsd) want+=(nsd) ;;
      bind) want+=(bind9) ;;
    esac
  done
  for p in $(printf '%s\n' "${want[@]}" | sort -u); do
    pkg_installed "$p" || need+=("$p")
  done
  [ ${#need[@]} = 0 ] && return 0
  [ "$(id -u)" = 0 ] || die "missing packages ${need[*]}: run as root or install them with apt-get"
  log "installing ${need[*]}"
  # Keep the packages from starting their services on port 53 (invoke-rc.d asks
  # policy-rc.d; 101 = action forbidden). Restore whatever policy was there before.
  local policy=/usr/sbin/policy-rc.d saved=''
  [ -e $policy ] && saved=$(mktemp) && cp -p $policy "$saved"
  printf '#!/bin/sh\nexit 101\n' >$policy
  chmod 755 $policy
  local before
  before=$(daemon_pids)
  DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >&2
  if [ -n "$saved" ]; then mv "$saved" $policy; else rm -f $policy; fi
  systemctl disable --now knot pdns nsd named 2>/dev/null || true
  # Should a package have started its daemon anyway, stop only that one: a process of a
  # packaged binary that did not exist before the install.
  for p in $(daemon_pids); do
    case " $before " in *" $p "*) continue ;; esac
    case $(readlink "/proc/$p/exe" 2>/dev/null) in
      /usr/sbin/knotd | /usr/sbin/pdns_server | /usr/sbin/nsd | /usr/sbin/named)
        log "stopping packaged daemon $(cat "/proc/$p/comm") (pid $p) started by the install"
        kill -TERM "$p" 2>/dev/null || true
        ;;
    esac
  done
}

# ---- zone, queries, trust anchors ----

generate() {
  local unique=$((DURATION * NAME_RATE))
  log "generating zone ($NAMES names) and queries ($unique unique names per file), seed $SEED"
  (cd "$REPO" && go run ./bench/zonegen -seed "$SEED" -names "$NAMES" -origin $ZONE \
    -missing $unique -mix $unique -out "$WORK/data" >/dev/null)
  ZONEFILE=$WORK/data/${ZONE%.}.zone
}

# anchor_from_ds prints a delv trust-anchors clause for the DS lines (zone-file form) on
# stdin; it fails when there are none. BIND 9.18 syntax: static-ds TAG ALG DTYPE "HEX".
anchor_from_ds() {
  awk -v zone=$ZONE '
    { sub(/;.*/, "") }
    { for (i = 1; i <= NF; i++) if ($i == "DS") {
        d = ""; for (j = i + 4; j <= NF; j++) d = d $j
        out = out sprintf("  %s static-ds %s %s %s \"%s\";\n", zone, $(i+1), $(i+2), $(i+3), d)
        break } }
    END { if (out == "") exit 1; printf "trust-anchors {\n%s};\n", out }'
}

# ds_from_server PORT prints the DS (SHA-256) of the DNSKEYs the server at PORT publishes.
ds_from_server() {
  dig +noall +answer +norec +time=2 +tries=2 @$ADDR -p "$1" $ZONE DNSKEY |
    dnssec-dsfromkey -2 -f - $ZONE
}

# validate NAME PORT ANCHOR checks one positive and one negative answer with delv.
validate() {
  local name=$1 port=$2 anchor=$3 out
  out=$(delv @$ADDR -p "$port" -a "$anchor" +root=$ZONE "www.$ZONE" A 2>&1) || true
  if ! grep -q '^; fully validated' <<<"$out"; then
    echo "$out" >&2
    log "$name: positive answer www.$ZONE A did not validate"
    return 1
  fi
  out=$(delv @$ADDR -p "$port" -a "$anchor" +root=$ZONE "delv-check-missing.$ZONE" A 2>&1) || true
  if ! grep -q '^; negative response, fully validated' <<<"$out"; then
    echo "$out" >&2
    log "$name: negative answer delv-check-missing.$ZONE A did not validate"
    return 1
  fi
  log "$name: positive and negative answers validate with delv"
}

# ---- servers: setup_X writes config and keys once; start_X starts it, setting SPID ----

port_of() {
  local i=0 s
  for s in signet knot pdns pdns-nocache nsd bind signet-base; do
    [ "$s" = "$1" ] && { echo $((PORT + i)); return; }
    i=$((i + 1))
  done
}

setup_signet() {
  log "building signet"
  (cd "$REPO" && go build -o "$WORK/bin/signet" ./cmd/signet)
  mkdir -p "$1/state"
}
# run_signet BIN ADMIN_PORT DIR PORT starts one Signet build; each build keeps its own state
# (keys) in DIR and its own admin port, so the two never share anything but the zone file.
run_signet() {
  local bin=$1 admin=$2 dir=$3 port=$4 sign=()
  [ "$BENCH_SIGNET_DNSSEC" = 1 ] && sign=(--dnssec)
  # shellcheck disable=SC2086 # BENCH_SIGNET_ARGS is a list of flags
  taskset -c "$SERVER_CPU" "$bin" serve --listen "$ADDR:$port" --zone "$ZONE=$ZONEFILE" \
    --state "$dir/state" --admin "$ADDR:$admin" "${sign[@]}" $BENCH_SIGNET_ARGS \
    >>"$dir/server.log" 2>&1 &
  SPID=$!
}
start_signet() { run_signet "$WORK/bin/signet" $((PORT + 100)) "$@"; }
# anchor_with BIN NAME DIR PORT prints the trust anchor of a Signet build.
anchor_with() {
  local bin=$1 name=$2 dir=$3 port=$4
  if [ "$BENCH_SIGNET_ANCHOR" = served ]; then
    log "$name: trust anchor from the served DNSKEY (BENCH_SIGNET_ANCHOR=served), not from 'signet ds'"
    ds_from_server "$port" | anchor_from_ds
    return
  fi
  "$bin" ds $ZONE --format zone --state "$dir/state" | anchor_from_ds
}
anchor_signet() { anchor_with "$WORK/bin/signet" signet "$@"; }

# signet-base: BASE_COMMIT's tree, taken with git archive (no worktree registered, nothing
# left behind outside WORK) and built exactly as the current tree is.
setup_signet-base() {
  local src=$WORK/base-src
  log "building signet-base from $BENCH_SIGNET_BASE (commit ${BASE_COMMIT:0:12})"
  rm -rf "$src"
  mkdir -p "$src" "$1/state"
  git -C "$REPO" archive "$BASE_COMMIT" | tar -x -C "$src"
  (cd "$src" && go build -o "$WORK/bin/signet-base" ./cmd/signet)
}
start_signet-base() { run_signet "$WORK/bin/signet-base" $((PORT + 101)) "$@"; }
anchor_signet-base() { anchor_with "$WORK/bin/signet-base" signet-base "$@"; }

setup_knot() {
  local dir=$1 port=$2
  mkdir -p "$dir/db" "$dir/kasp"
  cp "$ZONEFILE" "$dir/"
  cat >"$dir/knot.conf" <<EOF
server:
    listen: $ADDR@$port
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
    rundir: $dir
    pidfile: $dir/knot.pid
log:
  - target: stderr
    any: notice
database:
    storage: $dir/db
    kasp-db: $dir/kasp
policy:
  - id: p13
    algorithm: ecdsap256sha256
    single-type-signing: on
mod-onlinesign:
  - id: os13
    policy: p13
template:
  - id: default
    storage: $dir
    journal-content: none
    zonefile-sync: -1
zone:
  - domain: $ZONE
    file: $dir/${ZONE%.}.zone
    module: mod-onlinesign/os13
EOF
}
start_knot() {
  taskset -c "$SERVER_CPU" knotd -c "$1/knot.conf" >>"$1/server.log" 2>&1 &
  SPID=$!
}
anchor_knot() { ds_from_server "$2" | anchor_from_ds; }

# setup_pdns DIR PORT [nocache]
setup_pdns() {
  local dir=$1 port=$2
  cp "$ZONEFILE" "$dir/"
  echo "zone \"${ZONE%.}\" { type master; file \"$dir/${ZONE%.}.zone\"; };" >"$dir/named.conf"
  cat >"$dir/pdns.conf" <<EOF
launch=bind
bind-config=$dir/named.conf
bind-dnssec-db=$dir/dnssec.sqlite3
local-address=$ADDR
local-port=$port
socket-dir=$dir
daemon=no
guardian=no
webserver=no
loglevel=4
default-ksk-algorithm=ecdsa256
default-zsk-algorithm=
EOF
  if [ "${3:-}" = nocache ]; then
    printf 'cache-ttl=0\nquery-cache-ttl=0\nnegquery-cache-ttl=0\n' >>"$dir/pdns.conf"
  fi
  {
    pdnsutil --config-dir="$dir" create-bind-db "$dir/dnssec.sqlite3"
    pdnsutil --config-dir="$dir" secure-zone "${ZONE%.}"
    # NSEC3 narrow: white lies made per query, the online-denial mode closest to Signet's
    # default; BENCH_PDNS_DENIAL=nsec keeps PowerDNS's plain NSEC chain instead.
    if [ "$BENCH_PDNS_DENIAL" = narrow ]; then
      pdnsutil --config-dir="$dir" set-nsec3 "${ZONE%.}" '1 0 0 -' narrow
    fi
  } >>"$dir/setup.log" 2>&1
}
start_pdns() {
  taskset -c "$SERVER_CPU" pdns_server --config-dir="$1" >>"$1/server.log" 2>&1 &
  SPID=$!
}
anchor_pdns() { ds_from_server "$2" | anchor_from_ds; }
setup_pdns-nocache() { setup_pdns "$1" "$2" nocache; }
start_pdns-nocache() { start_pdns "$@"; }
anchor_pdns-nocache() { anchor_pdns "$@"; }

setup_nsd() {
  local dir=$1 port=$2
  cp "$ZONEFILE" "$dir/"
  # Debian's NSD limits responses to 200 qps per block (RRL); rrl-ratelimit: 0 turns it off.
  cat >"$dir/nsd.conf" <<EOF
server:
    ip-address: $ADDR@$port
    server-count: 1
    username: ""
    chroot: ""
    zonesdir: "$dir"
    pidfile: "$dir/nsd.pid"
    xfrdfile: "$dir/xfrd.state"
    zonelistfile: "$dir/zone.list"
    database: ""
    logfile: "$dir/server.log"
    rrl-ratelimit: 0
remote-control:
    control-enable: no
zone:
    name: $ZONE
    zonefile: "$dir/${ZONE%.}.zone"
EOF
}
start_nsd() {
  taskset -c "$SERVER_CPU" nsd -d -c "$1/nsd.conf" >>"$1/server.log" 2>&1 &
  SPID=$!
}
anchor_nsd() { return 0; } # unsigned: nothing to validate

setup_bind() {
  local dir=$1 port=$2
  mkdir -p "$dir/keys"
  cp "$ZONEFILE" "$dir/"
  cat >"$dir/named.conf" <<EOF
options {
    directory "$dir";
    pid-file "$dir/named.pid";
    listen-on port $port { $ADDR; };
    listen-on-v6 { none; };
    recursion no;
    dnssec-validation no;
    key-directory "$dir/keys";
};
controls { };
zone "${ZONE%.}" {
    type primary;
    file "$dir/${ZONE%.}.zone";
    dnssec-policy default;
    inline-signing yes;
};
EOF
}
start_bind() {
  taskset -c "$SERVER_CPU" named -g -n 1 -c "$1/named.conf" >>"$1/server.log" 2>&1 &
  SPID=$!
}
anchor_bind() { ds_from_server "$2" | anchor_from_ds; }

# ask PORT NAME TYPE prints the answer records' data (dig +short), and nothing when the
# server did not answer (dig prints its own errors to stdout, as lines starting with ';').
ask() {
  dig +short +norec +time=1 +tries=1 @$ADDR -p "$1" "$2" "$3" 2>/dev/null | grep -v '^;' || true
}

# alive PID: the process exists and is not a zombie waiting to be reaped.
alive() {
  local st
  st=$(ps -o stat= -p "$1" 2>/dev/null) && [ "${st:0:1}" != Z ]
}

# wait_signed NAME PORT waits until the server publishes a DNSKEY and, for BIND, which
# signs the zone gradually after loading it, until the SOA serial has stopped changing.
wait_signed() {
  local name=$1 port=$2 i serial last=''
  for i in $(seq 120); do
    if [ -n "$(ask "$port" $ZONE DNSKEY)" ]; then
      [ "$name" != bind ] && return 0
      serial=$(ask "$port" $ZONE SOA | awk '{print $3}')
      [ -n "$serial" ] && [ "$serial" = "$last" ] && return 0
      last=$serial
      sleep 10
      continue
    fi
    sleep 0.5
  done
  return 1
}

# start_server NAME DIR PORT starts the server, waits until it answers, re-pins all its
# threads (Knot places its own workers on CPUs of its choosing), and sets SPID.
start_server() {
  local name=$1 dir=$2 port=$3 i
  if ss -Hlnu "sport = :$port" | grep -q .; then
    die "port $port is already in use by a process this script did not start"
  fi
  "start_$name" "$dir" "$port"
  STARTED+=("$SPID")
  for i in $(seq 300); do
    alive "$SPID" || { tail -20 "$dir/server.log" >&2; log "$name exited"; return 1; }
    if [ -n "$(ask "$port" $ZONE SOA)" ]; then
      break
    fi
    sleep 0.1
  done
  [ "$i" -lt 300 ] || { tail -20 "$dir/server.log" >&2; log "$name did not answer in 30 s"; return 1; }
  local p
  for p in "$SPID" $(descendants "$SPID"); do
    taskset -a -p -c "$SERVER_CPU" "$p" >/dev/null
  done
}

# ---- measuring ----

# dnsperf_cmd PORT FILE SECONDS DO CPU [flags...] runs dnsperf pinned to CPU against the
# server on loopback; DO=1 sets the DO bit.
dnsperf_cmd() {
  local port=$1 file=$2 secs=$3 do=$4 cpu=$5
  shift 5
  local args=(-s "$ADDR" -p "$port" -d "$file" -l "$secs" -c "$CLIENTS" -q "$OUTSTANDING" -t "$TIMEOUT")
  [ "$do" = 1 ] && args+=(-D)
  taskset -c "$cpu" dnsperf "${args[@]}" "$@"
}

# parse_dnsperf OUT prints qps, average latency (ms), sent, completed, lost and
# SERVFAIL+REFUSED from a dnsperf report, tab-separated.
parse_dnsperf() {
  awk '
    /Queries sent:/ { sent = $3 }
    /Queries completed:/ { done = $3 }
    /Queries lost:/ { lost = $3 }
    /Queries per second:/ { qps = $4 }
    /Average Latency \(s\):/ { lat = $4 * 1000 }
    /Response codes:/ { for (i = 3; i <= NF; i += 3) if ($i == "SERVFAIL" || $i == "REFUSED") bad += $(i+1) }
    END {
      if (qps == "") exit 1
      printf "%s\t%.3f\t%d\t%d\t%d\t%d\n", qps, lat, sent, done, lost, bad + 0
    }' "$1"
}

# record SERVER MIX RUN OUT CPU_TICKS LINES [OTHER%] appends one row to RESULTS: LINES is
# the length of a file of unique names (0: names may repeat), OTHER% the CPU share that
# other processes took from our two cores during the run.
record() {
  local server=$1 mix=$2 run=$3 out=$4 ticks=$5 lines=$6 other=${7:--} row qps lat sent completed lost bad
  row=$(parse_dnsperf "$out") || { cat "$out" >&2; die "$server $mix: no figures in dnsperf output"; }
  IFS=$'\t' read -r qps lat sent completed lost bad <<<"$row"
  local cpu loop=0
  cpu=$(awk -v t="$ticks" -v hz="$CLK_TCK" 'BEGIN { printf "%.3f", t / hz }')
  [ "$lines" -gt 0 ] && [ "$sent" -gt "$lines" ] && loop=1
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
    "$server" "$mix" "$run" "$qps" "$lat" "$completed" "$cpu" "$lost" "$bad" "$loop" "$other" >>"$RESULTS"
  log "$(printf '%-12s %-12s run %s: %8.0f qps %7.3f ms  cpu %5.2f s  lost %s  servfail/refused %s  other load %s%s' \
    "$server" "$mix" "$run" "$qps" "$lat" "$cpu" "$lost" "$bad" "$([ "$other" = - ] && echo - || echo "$other%")" "$([ $loop = 1 ] && echo '  NAMES REPEATED')")"
}

# measure SERVER PORT MIX RUN DIR: one measured run against a freshly started server.
measure() {
  local server=$1 port=$2 mix=$3 run=$4 dir=$5 file do=1 unique=0 t0 t1
  local d=$WORK/data out=$dir/$mix-$run.out
  case $mix in
    existing) file=$d/q-existing.txt ;;
    missing) file=$d/q-missing.txt unique=1 ;;
    mix) file=$d/q-mix.txt unique=1 ;;
    nodo) file=$d/q-existing.txt do=0 ;;
    flood) measure_flood "$@"; return ;;
  esac
  local lines=0 prof=''
  [ $unique = 1 ] && lines=$(wc -l <"$file")
  if [ "$BENCH_SIGNET_PROFILE" = 1 ] && [ "${server%-base}" = signet ]; then
    # The profile covers the measured seconds but the last (curl must not outlast dnsperf);
    # curl is not in the server's process tree, so its CPU is not counted as the server's.
    curl -sf --max-time $((DURATION + 10)) --unix-socket "$dir/state/admin.sock" \
      -o "$dir/$mix-$run.pprof" "http://localhost/debug/pprof/profile?seconds=$((DURATION > 1 ? DURATION - 1 : 1))" &
    prof=$!
    STARTED+=("$prof")
  fi
  t0=$(snapshot)
  dnsperf_cmd "$port" "$file" "$DURATION" $do "$CLIENT_CPU" >"$out" 2>&1
  t1=$(snapshot)
  if [ -n "$prof" ]; then
    wait "$prof" || log "$server $mix run $run: no profile (curl failed)"
    stop_pid "$prof"
  fi
  record "$server" "$mix" "$run" "$out" $((${t1%% *} - ${t0%% *})) "$lines" "$(contention "$t0" "$t1")"
}

# measure_flood: existing names alone, then the same stream while a second dnsperf floods
# unique missing names. Rows: flood-alone (with the server's CPU), flood-fg (the same stream
# under the flood) and flood-bg (the flood itself); the last two carry no CPU figure, since
# the server's CPU then serves both streams.
measure_flood() {
  local server=$1 port=$2 run=$4 dir=$5 t0 t1 d=$WORK/data fg=()
  [ "$FLOOD_FG_QPS" -gt 0 ] && fg=(-Q "$FLOOD_FG_QPS")
  t0=$(snapshot)
  dnsperf_cmd "$port" "$d/q-existing.txt" "$DURATION" 1 "$CLIENT_CPU" "${fg[@]}" >"$dir/flood-alone-$run.out" 2>&1
  t1=$(snapshot)
  record "$server" flood-alone "$run" "$dir/flood-alone-$run.out" $((${t1%% *} - ${t0%% *})) 0 \
    "$(contention "$t0" "$t1")"

  # The flood starts first and ends last so that it covers the whole measured stream.
  dnsperf_cmd "$port" "$d/q-missing.txt" $((DURATION + 2)) 1 "$FLOOD_CPU" >"$dir/flood-bg-$run.out" 2>&1 &
  local bg=$!
  STARTED+=("$bg")
  sleep 1
  dnsperf_cmd "$port" "$d/q-existing.txt" "$DURATION" 1 "$CLIENT_CPU" "${fg[@]}" >"$dir/flood-fg-$run.out" 2>&1
  wait "$bg" || true
  stop_pid "$bg"
  record "$server" flood-fg "$run" "$dir/flood-fg-$run.out" 0 0
  record "$server" flood-bg "$run" "$dir/flood-bg-$run.out" 0 "$(wc -l <"$d/q-missing.txt")"
}

# prepare_server NAME sets the server up and validates it once; it fails (noting why in
# FAILED) when the server cannot be measured.
prepare_server() {
  local name=$1 port dir
  port=$(port_of "$name")
  dir=$WORK/$name
  mkdir -p "$dir"
  log "=== $name on $ADDR port $port, CPU $SERVER_CPU; dnsperf on CPU $CLIENT_CPU"
  if ! "setup_$name" "$dir" "$port"; then
    [ -f "$dir/setup.log" ] && tail -20 "$dir/setup.log" >&2
    log "$name: setup failed, skipped"; FAILED+=("$name (setup)"); return 1
  fi
  start_server "$name" "$dir" "$port" || { FAILED+=("$name (start)"); stop_pid "$SPID"; return 1; }
  if [ "$name" != nsd ] && { [ "${name%-base}" != signet ] || [ "$BENCH_SIGNET_DNSSEC" = 1 ]; }; then
    if ! wait_signed "$name" "$port" && log "$name: publishes no DNSKEY" ||
      ! "anchor_$name" "$dir" "$port" >"$dir/anchor.conf" ||
      ! validate "$name" "$port" "$dir/anchor.conf"; then
      FAILED+=("$name (DNSSEC validation)"); stop_pid "$SPID"; return 1
    fi
    if [ "${name%-base}" = signet ] && [ "$BENCH_SIGNET_ANCHOR" = ds ]; then
      # The DS that `signet ds` prints must match the DNSKEY the server publishes.
      ds_from_server "$port" | anchor_from_ds >"$dir/anchor-dig.conf" || true
      cmp -s "$dir/anchor.conf" "$dir/anchor-dig.conf" ||
        log "$name: note: 'signet ds' differs from the DS of the served DNSKEY (see $dir)"
    fi
  fi
  stop_pid "$SPID"
}

# one_run NAME MIX RUN: a fresh server process, warmed, measured once, stopped.
one_run() {
  local name=$1 mix=$2 run=$3 port dir=$WORK/$1
  port=$(port_of "$name")
  start_server "$name" "$dir" "$port" || { FAILED+=("$name (restart)"); stop_pid "$SPID"; return 1; }
  if [ "$WARMUP" -gt 0 ]; then
    dnsperf_cmd "$port" "$WORK/data/q-existing.txt" "$WARMUP" 1 "$CLIENT_CPU" >/dev/null 2>&1
  fi
  measure "$name" "$port" "$mix" "$run" "$dir"
  stop_pid "$SPID"
}

# bench_servers NAME... prepares each server, then measures every mix RUNS times. With
# several names the servers alternate within each run, in reverse order on even runs, so
# that they share the machine's conditions (the two builds of BENCH_SIGNET_BASE). A server
# that fails to restart is dropped from the remaining runs.
bench_servers() {
  local names=() order=() keep=() name mix run i
  for name in "$@"; do
    prepare_server "$name" && names+=("$name")
  done
  for mix in $MIXES; do
    for run in $(seq "$RUNS"); do
      [ ${#names[@]} -gt 0 ] || return 0
      order=()
      if [ $((run % 2)) = 1 ]; then
        order=("${names[@]}")
      else
        for ((i = ${#names[@]} - 1; i >= 0; i--)); do order+=("${names[i]}"); done
      fi
      for name in "${order[@]}"; do
        if ! one_run "$name" "$mix" "$run"; then
          keep=()
          for i in "${names[@]}"; do [ "$i" = "$name" ] || keep+=("$i"); done
          names=("${keep[@]}")
        fi
      done
    done
  done
}

# ---- report ----

# medians prints SERVER MIX median-qps median-latency median-cpu-per-1000 lost% bad% looped
# max-other-load%, one line per (server, mix) in RESULTS, in the order first seen.
medians() {
  awk -F'\t' '
    function median(s,   n, a, i, j, t) {
      n = split(s, a, " ")
      for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
      return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
    }
    {
      k = $1 SUBSEP $2
      if (!(k in seen)) { seen[k] = 1; order[++n] = k }
      qps[k] = qps[k] " " $4; lat[k] = lat[k] " " $5
      if ($6 > 0 && $7 > 0) cpk[k] = cpk[k] " " ($7 / $6 * 1000)
      done[k] += $6; lost[k] += $8; bad[k] += $9; loop[k] += $10
      if ($11 != "-" && (!(k in other) || $11 + 0 > other[k] + 0)) other[k] = sprintf("%.1f", $11)
    }
    END {
      for (i = 1; i <= n; i++) {
        k = order[i]; split(k, p, SUBSEP)
        c = (k in cpk) ? sprintf("%.4f", median(cpk[k])) : "-"
        t = done[k] + lost[k]
        printf "%s\t%s\t%.0f\t%.3f\t%s\t%.2f\t%.2f\t%d\t%s\n", p[1], p[2], median(qps[k]), median(lat[k]), c,
          t ? 100 * lost[k] / t : 0, done[k] ? 100 * bad[k] / done[k] : 0, loop[k], (k in other) ? other[k] : "-"
      }
    }' "$RESULTS"
}

versions() {
  local s dirty=''
  [ -n "$(git -C "$REPO" status --porcelain 2>/dev/null)" ] && dirty=' with uncommitted changes'
  echo "- signet: $("$WORK/bin/signet" --version 2>/dev/null || echo '?') (commit $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')$dirty)"
  [ -n "$BASE_COMMIT" ] && echo "- signet-base: $BENCH_SIGNET_BASE (commit ${BASE_COMMIT:0:12})"
  for s in $SERVERS; do
    case $s in
      knot) echo "- knot: $(knotd -V 2>&1 | head -1)" ;;
      pdns) echo "- pdns: $(pdns_server --version 2>&1 | grep -o 'PowerDNS Authoritative Server [^ ]*' | head -1)" ;;
      nsd) echo "- nsd: $(nsd -v 2>&1 | head -1)" ;;
      bind) echo "- bind: $(named -v 2>&1 | head -1)" ;;
    esac
  done
  echo "- dnsperf: $(dnsperf -h 2>&1 | grep -m1 -i '^version' || echo '?')"
  echo "- delv: $(delv -v 2>&1 | head -1)"
  echo "- $(go version)"
}

# base_report prints the current build against signet-base from RESULTS: the medians of
# each, their ratio current/base, and each run's own ratio (the two servers were measured
# back to back in that run), at full precision.
base_report() {
  echo
  echo "## Current build (signet) against the base (signet-base = $BENCH_SIGNET_BASE, ${BASE_COMMIT:0:12})"
  echo
  echo "Alternating run by run on the same zone and query files. qps ratio = current qps / base qps"
  echo "(above 1: the current build answers faster); CPU ratio = current CPU per answer / base CPU"
  echo "per answer (above 1: the current build spends more), both of the medians. Each run's ratios"
  echo "compare the two servers measured back to back in that run; their spread is the noise."
  echo
  echo "| mix | base qps | current qps | qps ratio | base CPU µs / answer | current CPU µs / answer | CPU ratio | each run's qps ratio | each run's CPU ratio | max other load % base / current |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: |"
  awk -F'\t' '
    function median(s,   n, a, i, j, t) {
      n = split(s, a, " ")
      for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
      return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
    }
    $1 != "signet" && $1 != "signet-base" { next }
    {
      m = $2; k = m SUBSEP $3; b = ($1 == "signet-base")
      if (!(m in seen)) { seen[m] = 1; order[++n] = m }
      if ($3 > runs[m]) runs[m] = $3
      c = ($6 > 0 && $7 > 0) ? $7 / $6 * 1e6 : ""
      if (b) { bq[k] = $4; bc[k] = c; bqs[m] = bqs[m] " " $4; if (c != "") bcs[m] = bcs[m] " " c }
      else { cq[k] = $4; cc[k] = c; cqs[m] = cqs[m] " " $4; if (c != "") ccs[m] = ccs[m] " " c }
      if ($11 != "-") { if (b && $11 + 0 > bo[m] + 0) bo[m] = $11; if (!b && $11 + 0 > co[m] + 0) co[m] = $11 }
    }
    END {
      for (i = 1; i <= n; i++) {
        m = order[i]
        if (bqs[m] == "" || cqs[m] == "") continue
        mbq = median(bqs[m]); mcq = median(cqs[m])
        mbc = bcs[m] != "" ? median(bcs[m]) : ""; mcc = ccs[m] != "" ? median(ccs[m]) : ""
        rq = ""; rc = ""
        for (r = 1; r <= runs[m]; r++) {
          k = m SUBSEP r
          if (!(k in bq) || !(k in cq)) continue
          rq = rq (rq == "" ? "" : " ") (bq[k] > 0 ? sprintf("%.3f", cq[k] / bq[k]) : "-")
          if (bc[k] != "" && cc[k] != "") rc = rc (rc == "" ? "" : " ") sprintf("%.3f", cc[k] / bc[k])
        }
        printf "| %s | %.0f | %.0f | %s | %s | %s | %s | %s | %s | %s / %s |\n", m, mbq, mcq,
          (mbq > 0 ? sprintf("%.3f", mcq / mbq) : "-"),
          (mbc != "" ? sprintf("%.2f", mbc) : "-"), (mcc != "" ? sprintf("%.2f", mcc) : "-"),
          (mbc > 0 && mcc != "" ? sprintf("%.3f", mcc / mbc) : "-"),
          rq, (rc == "" ? "-" : rc), (m in bo ? bo[m] : "-"), (m in co ? co[m] : "-")
      }
    }' "$RESULTS"
}

report() {
  local med
  med=$(medians)
  echo
  echo "## Medians of $RUNS run(s) of ${DURATION} s (warm-up ${WARMUP} s; dnsperf -c $CLIENTS -q $OUTSTANDING -t $TIMEOUT)"
  echo
  echo "\"other load\" is the largest share of our two cores that other processes took during a"
  echo "run; above a few percent, qps and latency are not trustworthy (CPU per answer holds up better)."
  echo
  echo "| server | mix | qps | avg latency ms | server CPU s / 1000 answers | lost % | SERVFAIL+REFUSED % | other load % |"
  echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
  awk -F'\t' '{ printf "| %s | %s | %s | %s | %s | %s | %s | %s |%s\n", $1, $2, $3, $4, $5, $6, $7, $9,
    ($8 > 0 ? " names repeated in " $8 " run(s)" : "") }' <<<"$med"

  if grep -q $'^signet\t' <<<"$med" && grep -qv '^signet' <<<"$med"; then
    echo
    echo "## Signet against each peer (same mix, medians)"
    echo
    echo "qps ratio = Signet qps / peer qps. CPU-efficiency ratio = peer CPU per answer / Signet CPU per"
    echo "answer (above 1: Signet spends less CPU per answer). Near dnsperf's own ceiling the qps"
    echo "ratio measures the client; the CPU ratio still measures the server."
    echo
    echo "| mix | peer | qps ratio | CPU-efficiency ratio |"
    echo "| --- | --- | ---: | ---: |"
    awk -F'\t' '
      $1 == "signet" { sq[$2] = $3; sc[$2] = $5; next }
      $1 == "signet-base" { next }
      { peer[++n] = $1; mix[n] = $2; pq[n] = $3; pc[n] = $5 }
      END {
        for (i = 1; i <= n; i++) {
          m = mix[i]; if (!(m in sq) || m == "flood-bg") continue
          q = pq[i] > 0 ? sprintf("%.2f", sq[m] / pq[i]) : "-"
          c = (pc[i] != "-" && sc[m] != "-" && sc[m] > 0) ? sprintf("%.2f", pc[i] / sc[m]) : "-"
          printf "| %s | %s | %s | %s |\n", m, peer[i], q, c
        }
      }' <<<"$med"
  fi

  if grep -q $'^signet-base\t' <<<"$med" && grep -q $'^signet\t' <<<"$med"; then
    base_report
  fi

  if grep -q $'\tflood-fg\t' <<<"$med"; then
    echo
    echo "## Flood: existing names alone, then under a flood of unique missing names"
    echo
    echo "| server | alone qps | under flood qps | ratio | flood qps answered | latency under flood ms |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: |"
    awk -F'\t' '
      $2 == "flood-alone" { a[$1] = $3; if (!($1 in seen)) { seen[$1] = 1; s[++n] = $1 } }
      $2 == "flood-fg" { f[$1] = $3; fl[$1] = $4 }
      $2 == "flood-bg" { b[$1] = $3 }
      END { for (i = 1; i <= n; i++) { k = s[i]
        printf "| %s | %s | %s | %s | %s | %s |\n", k, a[k], f[k], (a[k] > 0 ? sprintf("%.2f", f[k] / a[k]) : "-"), b[k], fl[k] } }' <<<"$med"
    echo
    echo "The flood's dnsperf runs on CPU $FLOOD_CPU$([ "$FLOOD_CPU" = "$CLIENT_CPU" ] && echo ', the same core as the measured stream, so the two clients share it')."
  fi

  if [ -n "${RAW_RATE:-}" ]; then
    echo
    echo "## Signing limit"
    echo
    echo "Raw ECDSA P-256 RRSIG signing on CPU $SERVER_CPU, this run (median of 3): $RAW_RATE signatures/s."
    awk -F'\t' -v raw="$RAW_RATE" '$1 == "signet" && $2 == "missing" {
      printf "Signet, unique missing names: %s qps = %.2f x the raw signing rate (one signature per answer).\n", $3, $3 / raw }' <<<"$med"
  fi

  echo
  echo "## Servers"
  echo
  if [ "$BENCH_SIGNET_DNSSEC" = 1 ]; then
    echo "- signet: online signing, algorithm 13, $( [ -n "$BENCH_SIGNET_ARGS" ] && echo "flags: $BENCH_SIGNET_ARGS" || echo 'default (compact) denial')"
  else
    echo "- signet: UNSIGNED (BENCH_SIGNET_DNSSEC=0)$( [ -n "$BENCH_SIGNET_ARGS" ] && echo ", flags: $BENCH_SIGNET_ARGS")"
  fi
  [ -n "$BASE_COMMIT" ] && echo "- signet-base: the same settings, built from $BENCH_SIGNET_BASE (${BASE_COMMIT:0:12})"
  echo "- knot: mod-onlinesign, ECDSAP256SHA256 CSK, 1 UDP worker"
  echo "- pdns / pdns-nocache: bind backend + DNSSEC db, live signing, ECDSA P-256 CSK, $( [ "$BENCH_PDNS_DENIAL" = nsec ] && echo 'NSEC chain' || echo 'NSEC3 narrow'); pdns-nocache has cache-ttl=query-cache-ttl=negquery-cache-ttl=0"
  echo "- nsd: unsigned (ceiling), server-count 1, rrl-ratelimit 0"
  case " $SERVERS " in
    *" bind "*) echo "- bind: pre-signed reference (inline signing, dnssec-policy default), named -n 1" ;;
    *) echo "- bind (pre-signed reference): skipped (add 'bind' to SERVERS to run it)" ;;
  esac
  if [ ${#FAILED[@]} -gt 0 ]; then
    echo "- NOT MEASURED: ${FAILED[*]}"
  fi

  echo
  echo "## Machine"
  echo
  echo "- $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
  echo "- kernel $(uname -sr); server on CPU $SERVER_CPU, dnsperf on CPU $CLIENT_CPU"
  echo "- load average at start: $LOAD_START; at end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- zone: $NAMES names, seed $SEED; $((DURATION * NAME_RATE)) unique names per query file"
  versions
}

# raw_sign_rate measures, on the server's core and in this run, how many ECDSA P-256 RRSIGs
# per second one core makes through miekg/dns (the signer's BenchmarkRRSIGSignP256): the
# physical limit for answers that each need a fresh signature.
raw_sign_rate() {
  local out ns
  log "measuring the raw ECDSA P-256 RRSIG signing rate on CPU $SERVER_CPU"
  out=$(cd "$REPO" && taskset -c "$SERVER_CPU" go test -run '^$' -bench '^BenchmarkRRSIGSignP256$' \
    -benchtime 3s -count 3 ./signer/ 2>&1) || { log "raw signing benchmark failed"; RAW_RATE=; return; }
  ns=$(awk '/^BenchmarkRRSIGSignP256/ { print $3 }' <<<"$out" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
  RAW_RATE=$(awk -v ns="$ns" 'BEGIN { if (ns > 0) printf "%.0f", 1e9 / ns }')
}

main() {
  local n
  n=$(nproc)
  for c in "$SERVER_CPU" "$CLIENT_CPU" "$FLOOD_CPU"; do
    [ "$c" -lt "$n" ] || die "CPU $c does not exist (nproc = $n)"
  done
  install_packages
  generate
  LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
  : >"$RESULTS"
  local s
  for s in $SERVERS; do
    if [ "$s" = signet ] && [ -n "$BASE_COMMIT" ]; then
      bench_servers signet-base signet
    else
      bench_servers "$s"
    fi
  done
  [ -s "$RESULTS" ] || die "nothing was measured: ${FAILED[*]}"
  raw_sign_rate
  report
  [ ${#FAILED[@]} = 0 ]
}

main

#!/usr/bin/env bash
# bench/cluster/run.sh: the answer rate of one Signet as a single server and as a cluster
# member (a follower, and the key leader) on a real etcd, under dnsperf, on loopback.
#
# The query path must not touch etcd: a signed answer reads the ring the instance holds in
# memory, so a cluster member must answer as fast, and spend as little CPU per answer, as a
# single server. This script measures that with the same binary, the same zone file, the
# same settings and the same query files; only the configuration's cluster section differs.
#
# Variants (each run starts fresh signet processes; etcd runs for the whole script):
#   single    signet serve, no cluster section (keys in its own state directory)
#   follower  the measured instance ns2 follows; the leader ns1 runs beside it, on CLIENT_CPU
#   leader    the measured instance ns1 leads; the follower ns2 runs beside it, on CLIENT_CPU
#   beside    (not in the default) single, measured while ns1 and ns2 run on CLIENT_CPU, not
#             queried: the cluster variants' neighbours without cluster mode, so that
#             member / beside tells cluster mode apart from the load of those neighbours
# ns1 always leads (it starts first and alone holds the KSK); the variant decides which of
# the two is pinned to SERVER_CPU and queried. etcd (ETCD_MEMBERS members, on CLIENT_CPU)
# keeps the cluster's key state across runs, so every run serves the same ring.
# Before measuring, one positive and one negative answer of each variant must validate in
# delv, and the follower must serve the leader's DNSKEY RRset.
#
# Query mixes (files from bench/zonegen, reproducible with SEED), DO set:
#   existing  existing names (answers the signature cache holds after the warm-up)
#   missing   unique random missing names: each answer is signed when asked
# Runs alternate: within run r every variant is measured once, in VARIANTS order on odd runs
# and in reverse on even runs, so that a drift of the machine's load hits all of them. Each
# (variant, mix, run) starts fresh processes, warms them with WARMUP seconds of existing
# names and measures DURATION seconds. The report gives per variant and mix the median qps
# and server CPU (utime+stime of the measured process, /proc/PID/stat) per answer, the etcd
# requests the cluster made during the measured seconds (etcd's grpc_server_msg_received_total),
# and the ratios of each variant to single (and of the members to beside, when it ran): of the
# medians and of each run's back-to-back pair.
# PROFILE=1 also takes a CPU profile (admin /debug/pprof/profile) of the measured process
# during each measured run, kept under WORK/profiles (KEEP=1 keeps WORK).
#
# Usage: bench/cluster/run.sh [--smoke]
#   --smoke   DURATION=1 RUNS=1 WARMUP=0 (a check that the harness works)
# Variables (defaults in brackets):
#   DURATION [10]  RUNS [3]  WARMUP [2]  MIXES ["existing missing"]
#   VARIANTS ["single follower leader"]  ETCD_MEMBERS [1] (1 or 3)  PORT [5500] (DNS on PORT,
#   PORT+1, PORT+2; admin on PORT+100..102; etcd from PORT+200)  SEED [1]  NAMES [10000]
#   NAME_RATE [200000] (unique missing names generated per second of DURATION)
#   SERVER_CPU [1]  CLIENT_CPU [0]  CLIENTS [4]  OUTSTANDING [100]  TIMEOUT [2]
#   PROFILE [0]  WORK [mktemp -d]  KEEP [0] (keep WORK)
# Wrap a measurement in flock /tmp/signet-bench.lock so that two never run at once.
# Stops every process it started, by PID. Sends traffic only to 127.0.0.1.
set -euo pipefail

exec 3>&2
die() { echo "run.sh: $*" >&3; exit 1; }
log() { echo "# $(date -u +%T) $*" >&3; }

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
[ "$SMOKE" = 1 ] && DURATION=1 RUNS=1 WARMUP=0
MIXES=${MIXES:-"existing missing"}
VARIANTS=${VARIANTS:-"single follower leader"}
ETCD_MEMBERS=${ETCD_MEMBERS:-1}
PORT=${PORT:-5500}
SEED=${SEED:-1}
NAMES=${NAMES:-10000}
NAME_RATE=${NAME_RATE:-200000}
SERVER_CPU=${SERVER_CPU:-1}
CLIENT_CPU=${CLIENT_CPU:-0}
CLIENTS=${CLIENTS:-4}
OUTSTANDING=${OUTSTANDING:-100}
TIMEOUT=${TIMEOUT:-2}
PROFILE=${PROFILE:-0}
KEEP=${KEEP:-0}
ZONE=bench.test.
ADDR=127.0.0.1 # the only address this script ever sends to
TOKEN=bench-admin-token

for v in DURATION RUNS WARMUP PORT SEED NAMES NAME_RATE SERVER_CPU CLIENT_CPU CLIENTS \
  OUTSTANDING TIMEOUT; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number, not '${!v}'"
done
{ [ "$DURATION" -ge 1 ] && [ "$RUNS" -ge 1 ]; } || die "DURATION and RUNS must be at least 1"
case $ETCD_MEMBERS in 1 | 3) ;; *) die "ETCD_MEMBERS must be 1 or 3" ;; esac
for v in $VARIANTS; do
  case $v in single | beside | follower | leader) ;; *) die "unknown variant $v" ;; esac
done
for m in $MIXES; do
  case $m in existing | missing) ;; *) die "unknown mix $m" ;; esac
done
n=$(nproc)
{ [ "$SERVER_CPU" -lt "$n" ] && [ "$CLIENT_CPU" -lt "$n" ]; } || die "no CPU $SERVER_CPU or $CLIENT_CPU (nproc = $n)"
for t in dnsperf etcd delv dig dnssec-dsfromkey age-keygen curl taskset; do
  command -v $t >/dev/null || die "$t not found: run scripts/install-test-deps.sh"
done

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
WORK=${WORK:-$(mktemp -d /tmp/signet-clusterbench.XXXXXX)}
mkdir -p "$WORK"
chmod 700 "$WORK"
RESULTS=$WORK/results.tsv

# ---- processes: every one we start is recorded and stopped by PID ----

STARTED=()

alive() { local st; st=$(ps -o stat= -p "$1" 2>/dev/null) && [ "${st:0:1}" != Z ]; }

stop_pid() {
  local pid=$1 i keep=() p
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 50); do alive "$pid" || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  for p in "${STARTED[@]}"; do [ "$p" = "$pid" ] || keep+=("$p"); done
  STARTED=("${keep[@]}")
}

cleanup() {
  local rc=$? i
  for ((i = ${#STARTED[@]} - 1; i >= 0; i--)); do stop_pid "${STARTED[i]}"; done
  if [ "$KEEP" = 1 ] || [ $rc != 0 ]; then log "work directory kept: $WORK"; else rm -rf "$WORK"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ticks PID... prints the CPU clock ticks (utime+stime) of the given processes.
ticks() {
  local sum=0 p line f
  for p in "$@"; do
    line=$(cat "/proc/$p/stat" 2>/dev/null) || continue
    read -ra f <<<"${line##*) }"
    sum=$((sum + f[11] + f[12]))
  done
  echo $sum
}
CLK_TCK=$(getconf CLK_TCK)

# busy prints the busy ticks of SERVER_CPU and CLIENT_CPU together.
busy() {
  awk -v a="cpu$SERVER_CPU" -v b="cpu$CLIENT_CPU" \
    '$1 == a || $1 == b { s += $2 + $3 + $4 + $7 + $8 + $9 } END { print s + 0 }' /proc/stat
}

# children_ticks prints the ticks of this script's reaped children (dnsperf).
children_ticks() {
  local line f
  line=$(cat /proc/$$/stat)
  read -ra f <<<"${line##*) }"
  echo $((f[13] + f[14]))
}

# ---- etcd ----

ETCD_PIDS=()
ENDPOINTS=''
start_etcd() {
  local i initial='' peer client
  for ((i = 0; i < ETCD_MEMBERS; i++)); do
    initial+="${initial:+,}e$i=http://$ADDR:$((PORT + 201 + 2 * i))"
  done
  for ((i = 0; i < ETCD_MEMBERS; i++)); do
    client=$ADDR:$((PORT + 200 + 2 * i)) peer=$ADDR:$((PORT + 201 + 2 * i))
    ENDPOINTS+="${ENDPOINTS:+, }http://$client"
    mkdir -p "$WORK/etcd$i"
    taskset -c "$CLIENT_CPU" etcd --name "e$i" --data-dir "$WORK/etcd$i/data" \
      --listen-client-urls "http://$client" --advertise-client-urls "http://$client" \
      --listen-peer-urls "http://$peer" --initial-advertise-peer-urls "http://$peer" \
      --initial-cluster "$initial" --initial-cluster-state new --initial-cluster-token signet-bench \
      >"$WORK/etcd$i/log" 2>&1 &
    ETCD_PIDS+=($!)
    STARTED+=($!)
  done
  for ((i = 0; i < ETCD_MEMBERS; i++)); do
    local j
    for j in $(seq 200); do
      curl -fs "http://$ADDR:$((PORT + 200 + 2 * i))/health" 2>/dev/null | grep -q '"health":"true"' && break
      alive "${ETCD_PIDS[i]}" || { tail -20 "$WORK/etcd$i/log" >&2; die "etcd e$i exited"; }
      sleep 0.1
    done
    [ "$j" -lt 200 ] || die "etcd e$i not healthy in 20 s"
  done
  log "etcd: $ETCD_MEMBERS member(s) at $ENDPOINTS, on CPU $CLIENT_CPU"
}

# etcd_requests prints the gRPC messages every etcd member has received so far: unary requests
# and each message on a stream (a lease keep-alive, a watch request).
etcd_requests() {
  local i sum=0 c
  for ((i = 0; i < ETCD_MEMBERS; i++)); do
    c=$(curl -fs "http://$ADDR:$((PORT + 200 + 2 * i))/metrics" |
      awk '/^grpc_server_msg_received_total/ { s += $NF } END { printf "%d", s }')
    sum=$((sum + c))
  done
  echo $sum
}

# ---- zone, queries, configurations ----

setup() {
  log "building signet"
  (cd "$REPO" && go build -o "$WORK/bin/signet" ./cmd/signet)
  local unique=$((DURATION * NAME_RATE))
  log "generating zone ($NAMES names) and queries ($unique unique missing names), seed $SEED"
  (cd "$REPO" && go run ./bench/zonegen -seed "$SEED" -names "$NAMES" -origin $ZONE \
    -missing $unique -mix 1 -out "$WORK/data" >/dev/null)
  ZONEFILE=$WORK/data/${ZONE%.}.zone
  printf 'a passphrase the bench shares\n' >"$WORK/passphrase"
  chmod 600 "$WORK/passphrase"
  local name recipients=''
  for name in ns1 ns2; do
    age-keygen -o "$WORK/$name.age" 2>/dev/null
    chmod 600 "$WORK/$name.age"
    recipients+="${recipients:+, }$(age-keygen -y "$WORK/$name.age")"
  done
  config single 0 '' >"$WORK/single.yaml"
  config ns1 1 "$recipients" >"$WORK/ns1.yaml"
  config ns2 2 "$recipients" >"$WORK/ns2.yaml"
  mkdir -p -m 700 "$WORK/single" "$WORK/ns1" "$WORK/ns2"
}

# config NAME I RECIPIENTS prints an instance's configuration: DNS on PORT+I, admin on
# PORT+100+I; a cluster section unless RECIPIENTS is empty.
config() {
  local name=$1 i=$2 recipients=$3
  cat <<EOF
listen: ["$ADDR:$((PORT + i))"]
admin: {addr: "$ADDR:$((PORT + 100 + i))", token: $TOKEN}
keystore: {passphrase_file: $WORK/passphrase, work_factor: 10}
dnssec: {enabled: true}
zones:
  - {origin: $ZONE, file: $ZONEFILE}
EOF
  [ -z "$recipients" ] && return
  cat <<EOF
cluster:
  name: $name
  id: bench
  lease_ttl: 2s
  etcd: {endpoints: [$ENDPOINTS]}
  recipients: [$recipients]
  identity_file: $WORK/$name.age
EOF
}

# ---- instances ----

port_of() { case $1 in single) echo "$PORT" ;; ns1) echo $((PORT + 1)) ;; ns2) echo $((PORT + 2)) ;; esac; }
admin_of() { echo $(($(port_of "$1") + 100)); }

ask() { dig +short +norec +time=1 +tries=1 @$ADDR -p "$1" "$2" "$3" 2>/dev/null || true; }

# start NAME CPU starts an instance pinned to CPU and waits until it answers the zone's
# DNSKEY query; it sets PID_<NAME>.
start() {
  local name=$1 cpu=$2 port pid i
  port=$(port_of "$name")
  ss -Hlnu "sport = :$port" | grep -q . && die "port $port is already in use by a process this script did not start"
  taskset -c "$cpu" "$WORK/bin/signet" serve --config "$WORK/$name.yaml" --state "$WORK/$name/state" \
    >>"$WORK/$name/server.log" 2>&1 &
  pid=$!
  STARTED+=("$pid")
  printf -v "PID_$name" %s "$pid"
  for i in $(seq 300); do
    alive "$pid" || { tail -20 "$WORK/$name/server.log" >&2; die "$name exited"; }
    [ -n "$(ask "$port" $ZONE DNSKEY)" ] && return 0
    sleep 0.1
  done
  tail -20 "$WORK/$name/server.log" >&2
  die "$name did not serve the zone's DNSKEY RRset in 30 s"
}

# metric NAME METRIC prints a metric's value from the instance's /metrics.
metric() {
  curl -fs "http://$ADDR:$(admin_of "$1")/metrics" 2>/dev/null | awk -v m="$2" '$1 == m { print $2 }'
}

# wait_until WHAT CMD... retries CMD for 30 s.
wait_until() {
  local what=$1 i
  shift
  for i in $(seq 300); do "$@" && return 0; sleep 0.1; done
  die "$what: not so after 30 s"
}
leads() { [ "$(metric ns1 signet_cluster_leader)" = 1 ]; }
same_keys() {
  local a b
  a=$(ask "$(port_of ns1)" $ZONE DNSKEY | sort)
  b=$(ask "$(port_of ns2)" $ZONE DNSKEY | sort)
  [ -n "$a" ] && [ "$a" = "$b" ]
}

# up VARIANT starts the variant's processes; MEASURED is then the queried instance.
up() {
  case $1 in
    single) start single "$SERVER_CPU"; MEASURED=single ;;
    beside)
      start ns1 "$CLIENT_CPU"
      wait_until "ns1 leads" leads
      start ns2 "$CLIENT_CPU"
      wait_until "ns2 serves ns1's DNSKEY RRset" same_keys
      start single "$SERVER_CPU"
      MEASURED=single
      ;;
    follower | leader)
      local cpu1=$CLIENT_CPU cpu2=$SERVER_CPU
      [ "$1" = leader ] && cpu1=$SERVER_CPU cpu2=$CLIENT_CPU
      start ns1 "$cpu1"
      wait_until "ns1 leads" leads
      start ns2 "$cpu2"
      wait_until "ns2 serves ns1's DNSKEY RRset" same_keys
      [ "$(metric ns2 signet_cluster_leader)" = 0 ] || die "ns2 leads: the follower variant would measure a leader"
      if [ "$1" = follower ]; then MEASURED=ns2; else MEASURED=ns1; fi
      ;;
  esac
}

down() {
  local name pid
  for name in ns2 ns1 single; do
    pid=$(eval echo "\${PID_$name:-}")
    [ -n "$pid" ] && alive "$pid" && stop_pid "$pid"
    printf -v "PID_$name" %s ''
  done
  return 0
}

# ---- validation ----

anchor() {
  local i keys=''
  for i in 1 2 3; do
    keys=$(dig +noall +answer +norec +time=2 +tries=2 @$ADDR -p "$1" $ZONE DNSKEY) && [ -n "$keys" ] && break
    sleep 0.5
  done
  [ -n "$keys" ] || return 1
  dnssec-dsfromkey -2 -f - $ZONE <<<"$keys" |
    awk -v zone=$ZONE '{ d = ""; for (j = 7; j <= NF; j++) d = d $j
      out = out sprintf("  %s static-ds %s %s %s \"%s\";\n", zone, $4, $5, $6, d) }
      END { if (out == "") exit 1; printf "trust-anchors {\n%s};\n", out }'
}

validate() {
  local name=$1 port a out
  port=$(port_of "$name")
  a=$WORK/$name/anchor.conf
  anchor "$port" >"$a" || die "$name: no DNSKEY to make a trust anchor from"
  out=$(delv @$ADDR -p "$port" -a "$a" +root=$ZONE "www.$ZONE" A 2>&1) || true
  grep -q '^; fully validated' <<<"$out" || { echo "$out" >&2; die "$name: www.$ZONE A did not validate"; }
  out=$(delv @$ADDR -p "$port" -a "$a" +root=$ZONE "delv-check-missing.$ZONE" A 2>&1) || true
  grep -q '^; negative response, fully validated' <<<"$out" || { echo "$out" >&2; die "$name: a missing name did not validate"; }
  log "$name: positive and negative answers validate with delv"
}

# ---- measuring ----

dnsperf_run() {
  local port=$1 file=$2 secs=$3
  taskset -c "$CLIENT_CPU" dnsperf -s "$ADDR" -p "$port" -d "$file" -l "$secs" -c "$CLIENTS" \
    -q "$OUTSTANDING" -t "$TIMEOUT" -D
}

# measure VARIANT MIX RUN: one measured run against fresh processes; one row in RESULTS.
measure() {
  local variant=$1 mix=$2 run=$3 port pid file out prof='' ours
  up "$variant"
  port=$(port_of "$MEASURED")
  pid=$(eval echo "\$PID_$MEASURED")
  [ "$WARMUP" -gt 0 ] && dnsperf_run "$port" "$WORK/data/q-existing.txt" "$WARMUP" >/dev/null 2>&1
  file=$WORK/data/q-$mix.txt
  out=$WORK/$variant-$mix-$run.out
  ours=("${STARTED[@]}")
  if [ "$PROFILE" = 1 ] && [ "$DURATION" -ge 3 ]; then
    mkdir -p "$WORK/profiles"
    curl -fs -H "Authorization: Bearer $TOKEN" -o "$WORK/profiles/$variant-$mix-$run.pprof" \
      "http://$ADDR:$(admin_of "$MEASURED")/debug/pprof/profile?seconds=$((DURATION - 1))" &
    prof=$!
  fi
  local t0 a0 c0 b0 e0 ns0 t1 a1 c1 b1 e1 ns1
  t0=$(ticks "$pid") a0=$(ticks "${ours[@]}") c0=$(children_ticks) b0=$(busy) e0=$(etcd_requests) ns0=$(date +%s%N)
  dnsperf_run "$port" "$file" "$DURATION" >"$out" 2>&1
  t1=$(ticks "$pid") a1=$(ticks "${ours[@]}") c1=$(children_ticks) b1=$(busy) e1=$(etcd_requests) ns1=$(date +%s%N)
  [ -n "$prof" ] && { wait "$prof" || log "profile of $variant $mix run $run failed"; }
  down
  local row
  row=$(awk '
    /Queries completed:/ { done = $3 }
    /Queries lost:/ { lost = $3 }
    /Queries per second:/ { qps = $4 }
    /Average Latency \(s\):/ { lat = $4 * 1000 }
    /Response codes:/ { for (i = 3; i <= NF; i += 3) if ($i == "SERVFAIL" || $i == "REFUSED") bad += $(i+1) }
    END { if (qps == "") exit 1; printf "%s\t%.3f\t%d\t%d\t%d", qps, lat, done, lost, bad + 0 }' "$out") ||
    { cat "$out" >&2; die "$variant $mix: no figures in dnsperf output"; }
  local qps lat done lost bad cpu other etcd
  IFS=$'\t' read -r qps lat done lost bad <<<"$row"
  cpu=$(awk -v t=$((t1 - t0)) -v hz="$CLK_TCK" 'BEGIN { printf "%.3f", t / hz }')
  # Busy time of our two cores that none of our processes (servers, etcd, dnsperf) accounts for.
  other=$(awk -v b=$((b1 - b0)) -v o=$((a1 - a0 + c1 - c0)) -v ns=$((ns1 - ns0)) -v hz="$CLK_TCK" \
    'BEGIN { f = (b - o) / (ns / 1e9 * hz * 2) * 100; printf "%.1f", f < 0 ? 0 : f }')
  etcd=$((e1 - e0))
  [ "$variant" = single ] && etcd=-
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
    "$variant" "$mix" "$run" "$qps" "$lat" "$done" "$cpu" "$lost" "$bad" "$etcd" "$other" >>"$RESULTS"
  log "$(printf '%-8s %-8s run %s: %8.0f qps %7.3f ms  cpu %5.2f s  lost %s  servfail/refused %s  etcd requests %s  other load %s%%' \
    "$variant" "$mix" "$run" "$qps" "$lat" "$cpu" "$lost" "$bad" "$etcd" "$other")"
}

# ---- report ----

# MEDIAN is an awk function: the median of the numbers in a space-separated string.
MEDIAN='
    function median(s,   n, a, i, j, t) {
      n = split(s, a, " ")
      for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
      return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
    }'

report() {
  echo
  echo "## Medians of $RUNS alternating run(s) of ${DURATION} s (warm-up ${WARMUP} s; dnsperf -c $CLIENTS -q $OUTSTANDING -t $TIMEOUT)"
  echo
  echo "CPU is the measured instance's utime+stime per answer; etcd requests are the gRPC messages"
  echo "(unary requests and stream messages) every etcd member received during the measured seconds,"
  echo "from both instances (lease keep-alives, presence, re-reads: none per query);"
  echo "\"other load\" is the largest share of our two cores that other processes took during a run."
  echo
  echo "| variant | mix | qps | avg latency ms | CPU µs / answer | lost % | SERVFAIL+REFUSED % | etcd requests / run | other load % |"
  echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  awk -F'\t' "$MEDIAN"'
    {
      k = $1 SUBSEP $2
      if (!(k in seen)) { seen[k] = 1; order[++n] = k }
      qps[k] = qps[k] " " $4; lat[k] = lat[k] " " $5
      if ($6 > 0) cpu[k] = cpu[k] " " ($7 / $6 * 1e6)
      done[k] += $6; lost[k] += $8; bad[k] += $9
      if ($10 != "-") etcd[k] = etcd[k] " " $10
      if (!(k in other) || $11 + 0 > other[k] + 0) other[k] = $11
    }
    END {
      for (i = 1; i <= n; i++) {
        k = order[i]; split(k, p, SUBSEP); t = done[k] + lost[k]
        printf "| %s | %s | %.0f | %.3f | %s | %.2f | %.2f | %s | %s |\n", p[1], p[2], median(qps[k]), median(lat[k]),
          (k in cpu) ? sprintf("%.2f", median(cpu[k])) : "-", t ? 100 * lost[k] / t : 0,
          done[k] ? 100 * bad[k] / done[k] : 0, (k in etcd) ? median(etcd[k]) : "-", other[k]
      }
    }' "$RESULTS"

  local base
  for base in single beside; do
    grep -q "^$base"$'\t' "$RESULTS" && ratios "$base"
  done
  return 0
}

# ratios BASE prints every other variant's figures over BASE's, per mix (beside: only the
# cluster members, whose neighbours it shares).
ratios() {
  echo
  echo "## Variant / $1 (same mix)"
  echo
  echo "qps ratio = variant qps / $1 qps (below 1: the variant answers fewer); CPU ratio = variant"
  echo "CPU per answer / $1 CPU per answer (above 1: the variant spends more). \"medians\" compares"
  echo "the medians; \"each run\" the two measured back to back in that run (their spread is the noise)."
  echo
  echo "| variant | mix | qps ratio (medians) | CPU ratio (medians) | qps ratio, each run | CPU ratio, each run |"
  echo "| --- | --- | ---: | ---: | --- | --- |"
  awk -F'\t' -v b="$1" "$MEDIAN"'
    {
      v = $1; m = $2; r = $3
      q[v, m, r] = $4; c[v, m, r] = ($6 > 0 ? $7 / $6 : 0)
      qs[v, m] = qs[v, m] " " $4; cs[v, m] = cs[v, m] " " c[v, m, r]
      if (!(m in seenm)) { seenm[m] = 1; mixes[++nm] = m }
      if (v != b && (b == "single" || v != "single") && !(v in seenv)) { seenv[v] = 1; vs[++nv] = v }
      if (r > runs) runs = r
    }
    END {
      for (i = 1; i <= nv; i++) for (j = 1; j <= nm; j++) {
        v = vs[i]; m = mixes[j]
        if (qs[v, m] == "" || qs[b, m] == "") continue
        rq = ""; rc = ""
        for (r = 1; r <= runs; r++) {
          if (!((v SUBSEP m SUBSEP r) in q) || !((b SUBSEP m SUBSEP r) in q)) continue
          rq = rq (rq == "" ? "" : " ") sprintf("%.3f", q[v, m, r] / q[b, m, r])
          if (c[b, m, r] > 0) rc = rc (rc == "" ? "" : " ") sprintf("%.3f", c[v, m, r] / c[b, m, r])
        }
        sc = median(cs[b, m])
        printf "| %s | %s | %.3f | %s | %s | %s |\n", v, m, median(qs[v, m]) / median(qs[b, m]),
          (sc > 0 ? sprintf("%.3f", median(cs[v, m]) / sc) : "-"), rq, rc
      }
    }' "$RESULTS"
}

machine() {
  echo
  echo "## Machine"
  echo
  echo "- $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
  echo "- measured instance on CPU $SERVER_CPU; dnsperf, etcd and the other instance on CPU $CLIENT_CPU"
  echo "- load average at start: $LOAD_START; at end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- zone: $NAMES names, seed $SEED; etcd: $ETCD_MEMBERS member(s), $(etcd --version 2>/dev/null | head -1)"
  echo "- signet commit $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')$([ -n "$(git -C "$REPO" status --porcelain 2>/dev/null)" ] && echo ' with uncommitted changes'); $(go version)"
  [ "$PROFILE" = 1 ] && echo "- CPU profiles: $WORK/profiles (go tool pprof -top $WORK/bin/signet FILE)"
  return 0
}

main() {
  start_etcd
  setup
  LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
  : >"$RESULTS"
  # Once: each variant comes up and validates; the first start of ns1 makes the keys.
  local v order=() run mix i
  for v in $VARIANTS; do
    up "$v"
    case $v in single | beside) validate single ;; *) validate ns1 && validate ns2 ;; esac
    down
  done
  for mix in $MIXES; do
    for run in $(seq "$RUNS"); do
      order=()
      if [ $((run % 2)) = 1 ]; then
        read -ra order <<<"$VARIANTS"
      else
        read -ra order <<<"$(tr ' ' '\n' <<<"$VARIANTS" | grep . | tac | tr '\n' ' ')"
      fi
      for v in "${order[@]}"; do measure "$v" "$mix" "$run"; done
    done
  done
  report
  machine
}

main "$@"; exit

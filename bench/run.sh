#!/usr/bin/env bash
# Runs the same scenarios against the native compeit-server and against the
# socket.io 0.9.19 reference (bench/reference), one fresh server per scenario,
# and writes the table to bench/RESULTS.md.
#
#   bench/run.sh                 build what is missing, install the reference, run everything (3-6 min)
#   DURATION=5 bench/run.sh      shorter measurement windows
#   bench/run.sh --only native   one server only (native | reference)
#   bench/run.sh --no-build      use the binaries in build/native/bin as they are
#
# Environment: DURATION (s, default 10), WARMUP (s, 2), IDLE_CLIENTS_ROOMS (100),
# QUIET_WAIT (s to wait for other load to go away before each run, 20),
# RESULTS (output file, bench/RESULTS.md), KEEP_WORK=1 keeps the scratch folder.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
build="$root/build/native"
results_md=${RESULTS:-$here/RESULTS.md}
duration=${DURATION:-10}
warmup=${WARMUP:-2}
idle_rooms=${IDLE_CLIENTS_ROOMS:-100}
quiet_wait=${QUIET_WAIT:-20}
only=""
do_build=1

while [[ $# -gt 0 ]]; do
  case "$1" in
    --only) only="$2"; shift 2 ;;
    --no-build) do_build=0; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

work=$(mktemp -d /tmp/compeit-bench.XXXXXX)
server_pid=""
server_port=""

stop_server() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  server_pid=""
}

cleanup() {
  stop_server
  if [[ -z "${KEEP_WORK:-}" ]]; then rm -rf "$work"; else echo "scratch kept in $work" >&2; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "[bench $(date +%T)] $*" >&2; }

# 10,000 clients: the generator and each server hold one descriptor per client.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [[ $(ulimit -n) != unlimited && $(ulimit -n) -lt $((idle_rooms * 100 + 1000)) ]]; then
  log "warning: ulimit -n is $(ulimit -n); the idle scenario needs $((idle_rooms * 100 + 1000))"
fi

# ---- build and install ------------------------------------------------------------------------------------
if [[ $do_build == 1 ]]; then
  log "building compeit-server and compeit-loadgen"
  [[ -f "$build/CMakeCache.txt" ]] || (cd "$root" && cmake --preset native >/dev/null)
  (cd "$root" && cmake --build build/native -j2 --target compeit-server compeit-loadgen >/dev/null)
fi
[[ -x "$build/bin/compeit-server" && -x "$build/bin/compeit-loadgen" ]] || { echo "run.sh: build first (cmake --build build/native --target compeit-server compeit-loadgen)" >&2; exit 1; }
# Run copies: a rebuild of build/native during the run must not swap the binaries between scenarios.
cp "$build/bin/compeit-server" "$build/bin/compeit-loadgen" "$work/"
server_bin="$work/compeit-server"
loadgen_bin="$work/compeit-loadgen"
export BENCH_GIT=$(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown)
export BENCH_SERVER_BUILT=$(date -u -r "$build/bin/compeit-server" '+%Y-%m-%d %H:%M:%S UTC')
export BENCH_SERVER_SHA=$(sha256sum "$server_bin" | cut -c1-16)

if [[ "$only" != native ]]; then
  log "installing the reference (npm ci in bench/reference)"
  (cd "$here/reference" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi

# ---- helpers ----------------------------------------------------------------------------------------------

# Waits (at most QUIET_WAIT s) until other processes leave the CPUs alone:
# this machine is shared, and the numbers only mean something on idle cores.
busy_cores() {
  local a b
  a=($(head -1 /proc/stat)); sleep 1; b=($(head -1 /proc/stat))
  local busy=$(( (b[1]+b[2]+b[3]+b[6]+b[7]+b[8]) - (a[1]+a[2]+a[3]+a[6]+a[7]+a[8]) ))
  echo $(( busy * 100 / $(getconf CLK_TCK) ))   # hundredths of a core
}
wait_quiet() {
  local start=$SECONDS b
  while :; do
    b=$(busy_cores)
    if (( b < 30 )); then return 0; fi
    if (( SECONDS - start >= quiet_wait )); then
      log "machine still busy ($((b))% of a core used by others); running anyway"
      return 0
    fi
    log "machine busy ($((b))% of a core); waiting"
  done
}

# start_server native|reference NAME [extra server flags...]: sets server_pid, server_port.
start_server() {
  local kind=$1 name=$2; shift 2
  local out="$work/$name.out" err="$work/$name.err"
  local cmd
  if [[ $kind == native ]]; then
    mkdir -p "$work/$name.data"
    # Every client comes from 127.0.0.1 here: the per-address caps (256
    # connections, 64 unused handshakes by default) are lifted, as for any
    # deployment behind one proxy address.
    cmd=("$server_bin" --bind 127.0.0.1 --port 0 --data-dir "$work/$name.data" --rate 100000 --burst 100000
         --max-connections-per-address 0 --max-handshakes-per-address 100000 --log-level warn "$@")
  else
    cmd=(node --max-old-space-size=4096 "$here/reference/server.js" --port 0 "$@")
  fi
  "${cmd[@]}" >"$out" 2>"$err" &
  server_pid=$!
  for _ in $(seq 100); do
    if grep -q '^listening on http://127.0.0.1:' "$out" 2>/dev/null; then break; fi
    kill -0 "$server_pid" 2>/dev/null || { cat "$err" >&2; echo "run.sh: $kind server died" >&2; exit 1; }
    sleep 0.1
  done
  server_port=$(sed -n 's#^listening on http://127.0.0.1:\([0-9]*\).*#\1#p' "$out" | head -1)
  [[ -n "$server_port" ]] || { echo "run.sh: $kind server did not start" >&2; exit 1; }
  echo "${cmd[*]}" | sed "s#$work/$name.data#<tmp>#; s#$work/#build/native/bin/#; s#$root/##g" >"$work/$name.cmd"
}

# run_case KIND SCENARIO [server flags --] loadgen flags...
run_case() {
  local kind=$1 scenario=$2; shift 2
  local sflags=()
  if [[ " $* " == *" -- "* ]]; then
    while [[ $1 != -- ]]; do sflags+=("$1"); shift; done
    shift
  fi
  local name="$kind-$scenario"
  wait_quiet
  start_server "$kind" "$name" "${sflags[@]}"
  log "$name: server pid $server_pid port $server_port"
  local lg=("$loadgen_bin" --url "http://127.0.0.1:$server_port" --server-pid "$server_pid"
            --label "$kind" --scenario "$scenario" "$@")
  echo "${lg[*]}" | sed "s#$work/#build/native/bin/#; s#$root/##g; s#127.0.0.1:$server_port#127.0.0.1:\$PORT#; s#--server-pid $server_pid#--server-pid \$PID#" \
    >"$work/$name.lgcmd"
  local line rc=0
  line=$(timeout 300 "${lg[@]}" 2>"$work/$name.lgerr") || rc=$?
  if [[ -z "$line" ]]; then
    line="{\"server\":\"$kind\",\"scenario\":\"$scenario\",\"ok\":false,\"error\":\"loadgen exit $rc: $(tail -1 "$work/$name.lgerr" | tr -d '"\\')\"}"
  fi
  if ! kill -0 "$server_pid" 2>/dev/null; then
    log "$name: the server died during the run"
    line=$(echo "$line" | sed 's/}$/,"server_died":true}/')
  fi
  echo "$line" >>"$work/results.jsonl"
  # server command and loadgen command travel with the result
  printf '%s\t%s\t%s\n' "$name" "$(cat "$work/$name.cmd")" "$(cat "$work/$name.lgcmd")" >>"$work/commands.tsv"
  log "$name: $line"
  stop_server
}

# ---- the scenarios (issue 5) ------------------------------------------------------------------------------
kinds=(native reference)
[[ -n "$only" ]] && kinds=("$only")
started=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
t0=$SECONDS

for kind in "${kinds[@]}"; do
  run_case "$kind" rate200 --rooms 10 --members 10 --senders 1 --rate 200 --duration "$duration" --warmup "$warmup"
  run_case "$kind" rate1000 --rooms 10 --members 10 --senders 1 --rate 1000 --duration "$duration" --warmup "$warmup"
  run_case "$kind" flat --rooms 10 --members 10 --senders 1 --rate 0 --window 32 --duration "$duration" --warmup "$warmup"
  run_case "$kind" idle10k --rooms "$idle_rooms" --members 100 --idle --duration 5 --connect-concurrency 256
  # Room chat: the native server stores every message in SQLite (WAL, synchronous=FULL)
  # before delivering it; the reference keeps its history in memory.
  run_case "$kind" chat200 --rooms 10 --members 10 --senders 1 --rate 200 --type chat --duration "$duration" --warmup "$warmup"
done

elapsed=$((SECONDS - t0))
log "all scenarios done in ${elapsed}s; writing $results_md"

node "$here/report.mjs" "$work/results.jsonl" "$work/commands.tsv" "$started" "$elapsed" >"$results_md.tmp"
mv "$results_md.tmp" "$results_md"
cp "$work/results.jsonl" "$here/results.jsonl"
log "wrote $results_md and bench/results.jsonl"

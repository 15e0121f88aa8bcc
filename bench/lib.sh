# shellcheck shell=bash disable=SC2154
# Sourced by bench/run.sh and bench/cluster.sh (not run): the scratch folder,
# the binaries a run measures, waiting for a quiet machine, the servers of one
# case (started, stopped) and the generator run against them.
#
# The caller sets `here` (bench/) and `root` (the repository) first. From the
# environment: BUILD (the build folder, default build/native), QUIET_WAIT (s,
# 20), KEEP_WORK=1 keeps the scratch folder.

build_rel=${BUILD:-build/native}
build="$root/$build_rel"
quiet_wait=${QUIET_WAIT:-20}
work=$(mktemp -d /tmp/compeit-bench.XXXXXX)

# The running case: every process it started (each one's CPU is measured, all
# are stopped together), the ports the generator connects to, and how its
# command line is shown in RESULTS.md ($PORT / $PID, or one per process).
case_pids=()
case_ports=()
case_port_names=()
case_pid_names=()
at_exit=()  # more to stop on exit (cluster.sh: PostgreSQL)

log() { echo "[bench $(date +%T)] $*" >&2; }

stop_case() {
  local pid
  ((${#case_pids[@]} == 0)) && return 0
  kill -TERM "${case_pids[@]}" 2>/dev/null || true
  for pid in "${case_pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  case_pids=() case_ports=() case_port_names=() case_pid_names=()
}

cleanup() {
  stop_case
  local cmd
  for cmd in "${at_exit[@]}"; do $cmd || true; done
  if [[ -z "${KEEP_WORK:-}" ]]; then rm -rf "$work"; else echo "scratch kept in $work" >&2; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 10,000 clients: the generator and each server hold one descriptor per client.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# build_and_copy 0|1: builds compeit-server and compeit-loadgen in $build (1),
# then runs copies: a rebuild during the run must not swap the binaries between cases.
build_and_copy() {
  if [[ $1 == 1 ]]; then
    log "building compeit-server, compeit-loadgen and compeit-floor in $build_rel"
    [[ -f "$build/CMakeCache.txt" ]] || (cd "$root" && cmake --preset native -B "$build" >/dev/null)
    (cd "$root" && cmake --build "$build" -j2 --target compeit-server compeit-loadgen compeit-floor >/dev/null)
  fi
  [[ -x "$build/bin/compeit-server" && -x "$build/bin/compeit-loadgen" && -x "$build/bin/compeit-floor" ]] ||
    { echo "bench: build first (cmake --build $build_rel --target compeit-server compeit-loadgen compeit-floor)" >&2; exit 1; }
  cp "$build/bin/compeit-server" "$build/bin/compeit-loadgen" "$build/bin/compeit-floor" "$work/"
  server_bin="$work/compeit-server"
  loadgen_bin="$work/compeit-loadgen"
  floor_bin="$work/compeit-floor"
  export BENCH_GIT=$(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown)
  export BENCH_SERVER_BUILT=$(date -u -r "$build/bin/compeit-server" '+%Y-%m-%d %H:%M:%S UTC')
  export BENCH_SERVER_SHA=$(sha256sum "$server_bin" | cut -c1-16)
  export BENCH_BUILD=$build_rel
}

# How a command is shown in RESULTS.md: binaries where the build puts them, paths relative to the repository.
shown() { sed "s#$work/compeit-#$build_rel/bin/compeit-#g; s#$work/[^ ]*\.data#<tmp>#g; s#$root/##g"; }

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

# start_server native|uring|floor|reference NAME [extra server flags...]: one more process of
# the case; sets server_pid, server_port and writes its command to $work/NAME.cmd.
start_server() {
  local kind=$1 name=$2; shift 2
  local out="$work/$name.out" err="$work/$name.err"
  local cmd
  if [[ $kind == native || $kind == uring ]]; then
    mkdir -p "$work/$name.data"
    # Every client comes from 127.0.0.1 here: the per-address caps (256
    # connections, 64 unused handshakes by default) are lifted, as for any
    # deployment behind one proxy address.
    cmd=("$server_bin" --bind 127.0.0.1 --port 0 --data-dir "$work/$name.data" --rate 100000 --burst 100000
         --max-connections-per-address 0 --max-handshakes-per-address 100000 --log-level warn "$@")
    [[ $kind == uring ]] && cmd+=(--io-uring on)  # the same server, a flush's writes through io_uring
  elif [[ $kind == floor ]]; then
    cmd=("$floor_bin" --bind 127.0.0.1 --port 0 "$@")  # bench/floor: one send per recipient, no protocol work
  else
    cmd=(node --max-old-space-size=4096 "$here/reference/server.js" --port 0 "$@")
  fi
  "${cmd[@]}" >"$out" 2>"$err" &
  server_pid=$!
  case_pids+=("$server_pid")
  for _ in $(seq 100); do
    if grep -q '^listening on http://127.0.0.1:' "$out" 2>/dev/null; then break; fi
    kill -0 "$server_pid" 2>/dev/null || { cat "$err" >&2; echo "bench: $kind server died" >&2; exit 1; }
    sleep 0.1
  done
  server_port=$(sed -n 's#^listening on http://127.0.0.1:\([0-9]*\).*#\1#p' "$out" | head -1)
  [[ -n "$server_port" ]] || { echo "bench: $kind server did not start" >&2; exit 1; }
  echo "${cmd[*]}" | shown >"$work/$name.cmd"
}

# start_case KIND NAME [server flags...]: the processes of one case. native, floor and
# reference are one process; clusterN is cluster.sh's start_cluster.
start_case() {
  local kind=$1 name=$2
  case $kind in
    cluster*) start_cluster "$@" ;;
    *)
      start_server "$@"
      case_ports=("$server_port") case_port_names=('$PORT') case_pid_names=('$PID')
      ;;
  esac
}

# case_hook before|after: run before a case starts, and after the generator while the
# case's processes still run; what `after` prints (,"field":value...) joins the case's
# JSON line. Nothing here; cluster.sh defines its own.
case_hook() { :; }

# run_case KIND SCENARIO [server flags --] loadgen flags...: a fresh case, the
# generator against it, one JSON line to $work/results.jsonl.
run_case() {
  local kind=$1 scenario=$2; shift 2
  local sflags=()
  if [[ " $* " == *" -- "* ]]; then
    while [[ $1 != -- ]]; do sflags+=("$1"); shift; done
    shift
  fi
  local name="$kind-$scenario"
  wait_quiet
  case_hook before
  start_case "$kind" "$name" "${sflags[@]}"
  log "$name: server pids ${case_pids[*]} ports ${case_ports[*]}"
  local urls pids url_flag=--url
  urls=$(printf 'http://127.0.0.1:%s,' "${case_ports[@]}")
  pids=$(IFS=,; echo "${case_pids[*]}")
  (( ${#case_ports[@]} > 1 )) && url_flag=--urls
  local lg=("$loadgen_bin" "$url_flag" "${urls%,}" --server-pid "$pids"
            --label "$kind" --scenario "$scenario" "$@")
  local record i
  record=$(echo "${lg[*]}" | shown)
  record=${record/--server-pid $pids /--server-pid $(IFS=,; echo "${case_pid_names[*]}") }
  for i in "${!case_ports[@]}"; do  # each port ends at a comma or a space
    record=${record//127.0.0.1:${case_ports[$i]},/127.0.0.1:${case_port_names[$i]},}
    record=${record//127.0.0.1:${case_ports[$i]} /127.0.0.1:${case_port_names[$i]} }
  done
  local line rc=0
  line=$(timeout 300 "${lg[@]}" 2>"$work/$name.lgerr") || rc=$?
  if [[ -z "$line" ]]; then
    line="{\"server\":\"$kind\",\"scenario\":\"$scenario\",\"ok\":false,\"error\":\"loadgen exit $rc: $(tail -1 "$work/$name.lgerr" | tr -d '"\\')\"}"
  fi
  line="${line%\}}$(case_hook after)}"
  local pid
  for pid in "${case_pids[@]}"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "$name: process $pid died during the run"
      line=$(echo "$line" | sed 's/}$/,"server_died":true}/')
      break
    fi
  done
  echo "$line" >>"$work/results.jsonl"
  # server commands (one column each) and the loadgen command travel with the result
  printf '%s\t%s\t%s\n' "$name" "$(paste -sd '\t' "$work/$name.cmd")" "$record" >>"$work/commands.tsv"
  log "$name: $line"
  stop_case
}

# The 10 × 10 load scenarios of issue 5 (generator flags, without duration and warmup).
declare -A scenario_flags=(
  [rate200]="--rooms 10 --members 10 --senders 1 --rate 200"
  [rate1000]="--rooms 10 --members 10 --senders 1 --rate 1000"
  [flat]="--rooms 10 --members 10 --senders 1 --rate 0 --window 32"
)

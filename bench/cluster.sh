#!/usr/bin/env bash
# The cluster's benchmark (issue 14): the 10 × 10 scenarios against one plain
# compeit-server and against clusters of 1, 2 and 3 nodes (redis-server and a
# scratch PostgreSQL), in one run, a fresh Redis and fresh nodes per case.
# Leaves results.jsonl, commands.tsv and run.json in bench/cluster/, from which
# bench/cluster-report.mjs writes bench/cluster/RESULTS.md and that section of
# bench/RESULTS.md.
#
#   bench/cluster.sh                      build what is missing, run everything (about 10 min)
#   DURATION=3 bench/cluster.sh           shorter measurement windows
#   bench/cluster.sh --only native,cluster3 --scenarios rate200
#   bench/cluster.sh --no-build           use the binaries in $BUILD/bin as they are
#   REPEAT=3 bench/cluster.sh             every case 3 times (rounds); the report shows the median
#
# The generator connects straight to the nodes, members of each room spread
# round robin over them (--urls): every room message goes through Redis
# whichever node its members are on, so no load balancer is needed (haproxy
# would only add its own hop and CPU). CPU per delivery sums every node and
# redis-server. PostgreSQL only hands out blocks of user ids when clients
# connect (and would store chat, which these scenarios do not send); its CPU
# during the window is reported on the side.
#
# Environment: DURATION (s, 10), WARMUP (s, 2), REPEAT (1), QUIET_WAIT (s, 20),
# BUILD (build/native), KEEP_WORK=1, COMPEIT_PG_BIN (/usr/lib/postgresql/15/bin).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
duration=${DURATION:-10}
warmup=${WARMUP:-2}
repeat=${REPEAT:-1}
pgbin=${COMPEIT_PG_BIN:-/usr/lib/postgresql/15/bin}
kinds=(native cluster1 cluster2 cluster3)
scenarios=(rate200 rate1000 flat)
do_build=1

while [[ $# -gt 0 ]]; do
  case "$1" in
    --only) IFS=, read -ra kinds <<<"$2"; shift 2 ;;
    --scenarios) IFS=, read -ra scenarios <<<"$2"; shift 2 ;;
    --no-build) do_build=0; shift ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "cluster.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

# shellcheck source=bench/lib.sh
source "$here/lib.sh"
for scenario in "${scenarios[@]}"; do
  [[ -n "${scenario_flags[$scenario]:-}" ]] || { echo "cluster.sh: no scenario $scenario" >&2; exit 2; }
done
for kind in "${kinds[@]}"; do
  [[ $kind == native || $kind =~ ^cluster[1-9]$ ]] || { echo "cluster.sh: no kind $kind" >&2; exit 2; }
done
build_and_copy "$do_build"

# ---- PostgreSQL: one scratch database for the whole run ---------------------------------------------------
# As in scripts/run-cluster.sh: initdb refuses root, so as root it runs as the postgres user.
# Trust on 127.0.0.1 only: nothing but the nodes uses it, and it is gone after the run.

pg_data="" as_pg=()
stop_postgres() { [[ -z "$pg_data" ]] || "${as_pg[@]}" "$pgbin/pg_ctl" -D "$pg_data" -m fast -w -t 30 stop >/dev/null 2>&1; }
at_exit+=(stop_postgres)

in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {  # the first port from $1 on that nothing listens on
  local p=$1
  while in_use "$p"; do p=$((p + 1)); done
  echo "$p"
}

start_postgres() {
  local dir="$work/postgres" port
  mkdir -m 700 "$dir"
  chmod 755 "$work"  # the postgres user must reach its folder inside
  if [[ $(id -u) == 0 ]]; then as_pg=(runuser -u postgres --); chown postgres: "$dir"; fi
  port=$(free_port 5540)
  "${as_pg[@]}" "$pgbin/initdb" -D "$dir/data" -U postgres -E UTF8 --locale=C --auth=trust --no-sync \
    >"$work/initdb.log" 2>&1 || { tail -20 "$work/initdb.log" >&2; exit 1; }
  printf "listen_addresses = '127.0.0.1'\nport = %s\nunix_socket_directories = '%s'\nfsync = off\n" \
    "$port" "$dir" >>"$dir/data/postgresql.conf"
  pg_data="$dir/data"
  "${as_pg[@]}" "$pgbin/pg_ctl" -D "$pg_data" -l "$dir/postgres.log" -w -t 60 start >/dev/null ||
    { tail -20 "$dir/postgres.log" >&2; exit 1; }
  chat_db="postgresql://postgres@127.0.0.1:$port/postgres"
  pg_pid=$(head -1 "$pg_data/postmaster.pid")
  log "PostgreSQL on port $port (pid $pg_pid)"
}

# CPU seconds of PostgreSQL: the postmaster and every backend (its children).
pg_cpu_s() {
  [[ -n "$pg_data" ]] || { echo 0; return; }
  local pids total=0 f
  pids=("$pg_pid" $(pgrep -P "$pg_pid" || true))
  for p in "${pids[@]}"; do
    f=($(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null)) || continue
    total=$((total + f[11] + f[12]))
  done
  awk -v t="$total" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", t / hz }'
}

# ---- a cluster of N nodes ---------------------------------------------------------------------------------

# start_cluster clusterN NAME [server flags...]: redis-server, then N nodes on it
# (start_server, with the cluster flags), each ready when a client can join a room.
start_cluster() {
  local n=${1#cluster} name=$2; shift 2
  local rport rpid rcmd i
  rport=$(free_port 6400)
  redis_port=$rport
  mkdir -p "$work/$name.redis.data"
  rcmd=(redis-server --bind 127.0.0.1 --port "$rport" --save '' --appendonly no --dir "$work/$name.redis.data"
        --daemonize no --logfile "$work/$name.redis.log")
  "${rcmd[@]}" >/dev/null 2>&1 &
  rpid=$!
  case_pids+=("$rpid") case_pid_names+=('$REDIS_PID')
  for _ in $(seq 50); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.1; done
  redis-cli -p "$rport" ping >/dev/null 2>&1 || { tail -5 "$work/$name.redis.log" >&2; echo "cluster.sh: redis-server did not start" >&2; exit 1; }
  echo "${rcmd[*]}" | shown | sed "s#--port $rport #--port \$REDIS_PORT #; s#--save  #--save '' #; s#--logfile [^ ]*#--logfile <tmp>#" >"$work/$name.cmd"
  for i in $(seq 1 "$n"); do
    start_server native "$name.n$i" --node "n$i" --cluster "redis://127.0.0.1:$rport" --chat-db "$chat_db" "$@"
    case_ports+=("$server_port") case_port_names+=("\$N${i}_PORT") case_pid_names+=("\$N${i}_PID")
    sed "s#redis://127.0.0.1:$rport#redis://127.0.0.1:\$REDIS_PORT#; s#127.0.0.1:${chat_db##*127.0.0.1:}#127.0.0.1:\$PG_PORT/postgres#" \
      "$work/$name.n$i.cmd" >>"$work/$name.cmd"
    wait_node_ready "$name.n$i" "$server_port"
  done
}

# A node is ready once it has Redis and a block of user ids: one client joins a
# room of its own there (the generator, 1 client, no messages).
wait_node_ready() {
  local name=$1 port=$2
  for _ in $(seq 30); do
    if "$loadgen_bin" --url "http://127.0.0.1:$port" --idle --rooms 1 --members 1 --first-room 9999 \
         --settle 0 --duration 0 --connect-timeout 2 --setup-timeout 3 >/dev/null 2>>"$work/$name.probe"; then
      return 0
    fi
    sleep 0.3
  done
  tail -5 "$work/$name.err" >&2
  echo "cluster.sh: node $name never let a client join" >&2
  exit 1
}

# Around each case: PostgreSQL's CPU over all of it (setup included), the time Redis
# says it spent inside the commands (INFO commandstats: the functions, and what
# they call), and the round.
case_hook() {
  case $1 in
    before) redis_port="" pg_before=$(pg_cpu_s) ;;
    after)
      printf ',"round":%s' "$round"
      [[ -n "$redis_port" ]] || return 0
      printf ',"postgres_cpu_case_s":%s' "$(awk -v a="$pg_before" -v b="$(pg_cpu_s)" 'BEGIN { printf "%.2f", b - a }')"
      redis-cli -p "$redis_port" info commandstats | tr -d '\r' | awk -F'[:,=]' '
        /^cmdstat_(fcall|incr|xadd|publish):/ { sub("cmdstat_", "", $1); s = s sep "\"" $1 "\":{\"calls\":" $3 ",\"usec_per_call\":" $7 "}"; sep = "," }
        END { printf ",\"redis_commands\":{%s}", s }'
      ;;
  esac
}

# ---- the run ----------------------------------------------------------------------------------------------

[[ " ${kinds[*]}" == *" cluster"* ]] && start_postgres
started=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
t0=$SECONDS

# Side by side: each scenario against every kind in turn, so the machine's mood is shared.
for round in $(seq "$repeat"); do
  for scenario in "${scenarios[@]}"; do
    for kind in "${kinds[@]}"; do
      run_case "$kind" "$scenario" ${scenario_flags[$scenario]} --duration "$duration" --warmup "$warmup"
    done
  done
done

elapsed=$((SECONDS - t0))
log "all cases done in ${elapsed}s; writing bench/cluster/RESULTS.md and its section of bench/RESULTS.md"
mkdir -p "$here/cluster"
cp "$work/results.jsonl" "$work/commands.tsv" "$here/cluster/"
node -e 'console.log(JSON.stringify(Object.fromEntries(process.argv.slice(1).map((a) => a.split(/=(.*)/s).slice(0, 2))), null, 1))' \
  started="$started" elapsed_s="$elapsed" load_before="$load_before" load_after="$(cut -d' ' -f1-3 /proc/loadavg)" \
  build="$BENCH_BUILD" git="$BENCH_GIT" built="$BENCH_SERVER_BUILT" sha="$BENCH_SERVER_SHA" \
  redis="$(redis-server --version | cut -d' ' -f1-3)" postgres="$("$pgbin/postgres" --version | cut -d' ' -f3)" \
  >"$here/cluster/run.json"
node "$here/cluster-report.mjs"
log "done"

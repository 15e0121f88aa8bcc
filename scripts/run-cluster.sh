#!/usr/bin/env bash
# Runs a cluster on this machine, all on loopback: Redis, a scratch PostgreSQL,
# N compeit-server nodes (n1..nN) and haproxy in front of them on
# http://localhost:8080 (or $PORT), configured by deploy/haproxy/compeit.cfg.
# Ctrl-C stops everything and removes the scratch folder (KEEP=1 keeps it: logs).
#
#   scripts/run-cluster.sh [N] [extra compeit-server flags]     N defaults to 3
#   PORT=9000 scripts/run-cluster.sh 2 --log-level debug
#
# Installs what is missing, and builds, like scripts/run-server.sh; with
# COMPEIT_SERVER=path/to/compeit-server it runs that binary and builds nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

n=3
if [[ "${1:-}" =~ ^[0-9]+$ ]]; then n=$1; shift; fi
((n >= 1 && n <= 32)) || { echo "run-cluster.sh: N is from 1 to 32" >&2; exit 2; }
port=${PORT:-8080}

if [ -z "${COMPEIT_SERVER:-}" ]; then
  scripts/setup.sh --no-browser
  scripts/build.sh wasm
  scripts/build.sh native
fi
server=${COMPEIT_SERVER:-build/native/bin/compeit-server}
pgbin=${COMPEIT_PG_BIN:-/usr/lib/postgresql/15/bin}
haproxy=$(command -v haproxy || echo /usr/sbin/haproxy)

# --------------------------------------------------------------- helpers

in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# The first port from $1 on that nothing listens on.
free_port() {
  local p=$1
  while in_use "$p"; do p=$((p + 1)); done
  echo "$p"
}
# wait_for WHAT SECONDS COMMAND...: runs COMMAND every 0.1 s until it succeeds.
wait_for() {
  local what=$1 tries=$(($2 * 10))
  shift 2
  until "$@" >/dev/null 2>&1; do
    tries=$((tries - 1))
    ((tries > 0)) || { echo "run-cluster.sh: $what did not start; its log:" >&2; return 1; }
    sleep 0.1
  done
}

# --------------------------------------------------------------- cleanup

work=$(mktemp -d /tmp/compeit-cluster.XXXXXX)
chmod 755 "$work"  # the postgres user must reach its folder inside
pids=()
as_pg=()
pg_data=''
cleanup() {
  trap - EXIT INT TERM
  echo
  echo "stopping the cluster"
  ((${#pids[@]} == 0)) || kill -INT "${pids[@]}" 2>/dev/null || true
  ((${#pids[@]} == 0)) || wait "${pids[@]}" 2>/dev/null || true
  [ -z "$pg_data" ] || "${as_pg[@]}" "$pgbin/pg_ctl" -D "$pg_data" -m fast -w -t 30 stop >/dev/null 2>&1 || true
  if [ "${KEEP:-0}" = 1 ]; then echo "logs kept in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

in_use "$port" && { echo "run-cluster.sh: port $port is taken (PORT=... picks another)" >&2; exit 1; }

# --------------------------------------------------------------- Redis

redis_port=$(free_port 6390)
redis-server --bind 127.0.0.1 --port "$redis_port" --save '' --appendonly no --dir "$work" \
             --logfile "$work/redis.log" --daemonize no &
pids+=($!)
wait_for Redis 10 redis-cli -p "$redis_port" ping || { tail -20 "$work/redis.log" >&2; exit 1; }

# --------------------------------------------------------------- PostgreSQL

# initdb refuses to run as root: as root, the cluster belongs to the postgres user.
pg_dir=$work/postgres
mkdir -m 700 "$pg_dir"
if [ "$(id -u)" = 0 ]; then
  as_pg=(runuser -u postgres --)
  chown postgres: "$pg_dir"
fi
pg_port=$(free_port 5440)
export PGPASSWORD
PGPASSWORD=$(openssl rand -hex 16)  # the nodes' libpq reads it from the environment
(umask 077 && echo "$PGPASSWORD" >"$pg_dir/pwfile")
[ -z "${as_pg[*]}" ] || chown postgres: "$pg_dir/pwfile"
"${as_pg[@]}" "$pgbin/initdb" -D "$pg_dir/data" -U postgres --pwfile "$pg_dir/pwfile" -E UTF8 --locale=C \
  --auth-local=trust --auth-host=scram-sha-256 --no-sync >"$work/initdb.log" 2>&1 ||
  { tail -20 "$work/initdb.log" >&2; exit 1; }
rm "$pg_dir/pwfile"
cat >>"$pg_dir/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $pg_port
unix_socket_directories = '$pg_dir'
EOF
pg_data=$pg_dir/data
"${as_pg[@]}" "$pgbin/pg_ctl" -D "$pg_data" -l "$pg_dir/postgres.log" -w -t 60 start >/dev/null ||
  { tail -20 "$pg_dir/postgres.log" >&2; exit 1; }
chat_db="postgresql://postgres@127.0.0.1:$pg_port/postgres"

# --------------------------------------------------------------- the nodes

# Behind haproxy (deploy/haproxy/compeit.cfg says why): pages come from haproxy's origin,
# every request from haproxy's address (trusted for the client's, X-Forwarded-For), and on
# loopback every client shares haproxy's address, so haproxy limits each client, not the nodes.
nodes=()
node_port=$port
for i in $(seq 1 "$n"); do
  node_port=$(free_port $((node_port + 1)))
  "$server" --bind 127.0.0.1 --port "$node_port" --data-dir "$work/n$i" \
            --node "n$i" --cluster "redis://127.0.0.1:$redis_port" --chat-db "$chat_db" \
            --allowed-origin "http://localhost:$port" --allowed-origin "http://127.0.0.1:$port" \
            --trusted-proxy 127.0.0.1 --max-connections-per-address 0 --max-handshakes-per-address 10000 \
            "$@" >"$work/n$i.out" 2>"$work/n$i.log" &
  pids+=($!)
  nodes+=("n$i=127.0.0.1:$node_port")
  wait_for "node n$i" 15 grep -q "^listening on" "$work/n$i.out" || { tail -20 "$work/n$i.log" >&2; exit 1; }
done

# --------------------------------------------------------------- haproxy

deploy/haproxy/make-config.sh --bind "127.0.0.1:$port" --socket "$work/haproxy.sock" "${nodes[@]}" >"$work/haproxy.cfg"
"$haproxy" -f "$work/haproxy.cfg" -db >"$work/haproxy.log" 2>&1 &
pids+=($!)
wait_for haproxy 10 in_use "$port" || { tail -20 "$work/haproxy.log" >&2; exit 1; }

echo
echo "COMPEIT cluster of $n nodes on http://localhost:$port (haproxy)"
for i in $(seq 1 "$n"); do echo "  n$i  ${nodes[$((i - 1))]#*=}  pid ${pids[$i]}"; done
echo "  Redis       redis://127.0.0.1:$redis_port"
echo "  PostgreSQL  $chat_db (password in the nodes' PGPASSWORD)"
echo "  logs        $work/{n1..n$n,haproxy,redis}.log, $pg_dir/postgres.log"
echo "kill -9 a node's pid to watch the others carry on; Ctrl-C stops everything."
wait

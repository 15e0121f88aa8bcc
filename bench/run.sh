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
# RESULTS (output file, bench/RESULTS.md), KEEP_WORK=1 keeps the scratch folder,
# BUILD (build folder, build/native). bench/cluster.sh runs the cluster's benchmark.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
results_md=${RESULTS:-$here/RESULTS.md}
duration=${DURATION:-10}
warmup=${WARMUP:-2}
idle_rooms=${IDLE_CLIENTS_ROOMS:-100}
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

# shellcheck source=bench/lib.sh
source "$here/lib.sh"

if [[ $(ulimit -n) != unlimited && $(ulimit -n) -lt $((idle_rooms * 100 + 1000)) ]]; then
  log "warning: ulimit -n is $(ulimit -n); the idle scenario needs $((idle_rooms * 100 + 1000))"
fi

# ---- build and install ------------------------------------------------------------------------------------
build_and_copy "$do_build"

if [[ "$only" != native ]]; then
  log "installing the reference (npm ci in bench/reference)"
  (cd "$here/reference" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi

# ---- the scenarios (issue 5) ------------------------------------------------------------------------------
kinds=(native reference)
[[ -n "$only" ]] && kinds=("$only")
started=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
t0=$SECONDS

for kind in "${kinds[@]}"; do
  for scenario in rate200 rate1000 flat; do
    run_case "$kind" "$scenario" ${scenario_flags[$scenario]} --duration "$duration" --warmup "$warmup"
  done
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

#!/usr/bin/env bash
# Runs the same scenarios against the native compeit-server, the floor
# (bench/floor: one send per recipient, no protocol work) and the socket.io
# 0.9.19 reference (bench/reference), one fresh server per scenario, and
# writes the tables to bench/RESULTS.md.
#
#   bench/run.sh                 build what is missing, install the reference, run everything (~10 min)
#   DURATION=5 bench/run.sh      shorter measurement windows
#   bench/run.sh --only native   one server only (native | uring | floor | reference; a comma list too;
#                                uring is compeit-server with --io-uring on)
#   bench/run.sh --no-build      use the binaries in build/native/bin as they are
#   bench/run.sh --no-scale      without the cost-growth cases (room sizes, idle counts)
#   bench/run.sh --only-scale    only the cost-growth cases
#
# Environment: DURATION (s, default 10), WARMUP (s, 2), IDLE_CLIENTS_ROOMS (100),
# SCALE_DURATION (s per cost-growth case, 4), REF_MAX_ROOM (the largest room the
# reference is run with, 1000: its joins cost O(members^2) deliveries and 5,000
# takes minutes), SCALE_MAX_ROOM (the largest room for every server, 5000), SCALE_ROOMS (the
# room sizes, "2 10 100 1000 5000"; any of those), SCALE_IDLE (the idle counts, "1000 5000 15000";
# empty: none), NATIVE_FLAGS (more compeit-server flags, e.g. "--io-uring on"),
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
scale_duration=${SCALE_DURATION:-4}
ref_max_room=${REF_MAX_ROOM:-1000}
scale_max_room=${SCALE_MAX_ROOM:-5000}
read -r -a native_extra <<<"${NATIVE_FLAGS:-}"
only=""
do_build=1
do_base=1
do_scale=1

# How this run was asked for, for RESULTS.md.
shown_env=""
for v in DURATION WARMUP SCALE_DURATION REF_MAX_ROOM SCALE_MAX_ROOM SCALE_ROOMS SCALE_IDLE NATIVE_FLAGS QUIET_WAIT IDLE_CLIENTS_ROOMS; do
  [[ -n "${!v:-}" ]] && shown_env+="$v=${!v@Q} "
done
export BENCH_COMMAND="${shown_env}bench/run.sh${*:+ $*}"

while [[ $# -gt 0 ]]; do
  case "$1" in
    --only) only="$2"; shift 2 ;;
    --no-build) do_build=0; shift ;;
    --no-scale) do_scale=0; shift ;;
    --only-scale) do_base=0; shift ;;
    -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
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

if [[ -z "$only" || ",$only," == *,reference,* ]]; then
  log "installing the reference (npm ci in bench/reference)"
  (cd "$here/reference" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi

# ---- the scenarios (issue 5) ------------------------------------------------------------------------------
kinds=(native uring floor reference)
[[ -n "$only" ]] && IFS=, read -r -a kinds <<<"$only"
started=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
t0=$SECONDS

# server_flags KIND [members]: the case's server flags, then `--`. The native
# server lifts its per-room cap (256) for the large rooms and takes NATIVE_FLAGS.
server_flags() {
  local kind=$1 members=${2:-0}
  if [[ $kind == native || $kind == uring ]]; then
    ((members > 256)) && printf '%s\n' --max-room-users "$members"
    ((${#native_extra[@]})) && printf '%s\n' "${native_extra[@]}"
  fi
  echo --
}

# The 10 x 10 scenarios of issue 5.
base_cases() {
  local kind=$1 scenario
  for scenario in rate200 rate1000 flat; do
    run_case "$kind" "$scenario" $(server_flags "$kind") ${scenario_flags[$scenario]} --duration "$duration" --warmup "$warmup"
  done
  run_case "$kind" idle10k $(server_flags "$kind") --rooms "$idle_rooms" --members 100 --idle --duration 5 --connect-concurrency 256
  # Room chat: the native server stores every message in SQLite (WAL, synchronous=FULL)
  # before delivering it; the reference keeps its history in memory.
  run_case "$kind" chat200 $(server_flags "$kind") --rooms 10 --members 10 --senders 1 --rate 200 --type chat --duration "$duration" --warmup "$warmup"
}

# How cost grows (issue 20): rooms of 2 to 5,000 members at about 50,000
# deliveries/s each (one sender per room), then 1,000 / 5,000 / 15,000 idle
# joined connections (rooms of 100). Short windows: SCALE_DURATION.
scale_cases() {
  local kind=$1 size rooms rate n
  for size in ${SCALE_ROOMS:-2 10 100 1000 5000}; do
    if [[ $kind == reference ]] && ((size > ref_max_room)); then
      log "reference-room$size: skipped (REF_MAX_ROOM=$ref_max_room)"
      continue
    fi
    if ((size > scale_max_room)); then
      log "$kind-room$size: skipped (SCALE_MAX_ROOM=$scale_max_room)"
      continue
    fi
    rooms=${scale_rooms[$size]} rate=${scale_rate[$size]}
    # A join tells every member (user_joined and the chat join event): setting up a
    # room of N costs ~N^2 deliveries, 25 M for 5,000, hence the long deadlines.
    run_case "$kind" "room$size" $(server_flags "$kind" "$size") --rooms "$rooms" --members "$size" --senders 1 \
      --rate "$rate" --duration "$scale_duration" --warmup 1 --connect-timeout 180 --setup-timeout 300
  done
  for n in ${SCALE_IDLE-1000 5000 15000}; do
    run_case "$kind" "idle$((n / 1000))k" $(server_flags "$kind") --rooms $((n / 100)) --members 100 --idle \
      --duration 3 --connect-concurrency 256 --setup-timeout 240
  done
}
declare -A scale_rooms=([2]=1000 [10]=100 [100]=10 [1000]=1 [5000]=1)
declare -A scale_rate=([2]=50 [10]=50 [100]=50 [1000]=50 [5000]=10)

for kind in "${kinds[@]}"; do
  ((do_base)) && base_cases "$kind"
  ((do_scale)) && scale_cases "$kind"
done

elapsed=$((SECONDS - t0))
log "all scenarios done in ${elapsed}s; writing $results_md"

node "$here/report.mjs" "$work/results.jsonl" "$work/commands.tsv" "$started" "$elapsed" >"$results_md.tmp"
mv "$results_md.tmp" "$results_md"
cp "$work/results.jsonl" "$here/results.jsonl"
log "wrote $results_md and bench/results.jsonl"

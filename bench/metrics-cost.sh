#!/usr/bin/env bash
# The cost of the Prometheus metrics (issue 15): the rate200 scenario (10 rooms
# x 10 members, 1 sender per room at 200 msg/s, 18,000 deliveries/s) against
# a server built without the counters (BASE_BIN) and this tree's server,
# scraped every second at /metrics, in interleaved rounds (base, metrics,
# base, ...: the VM is noisy, so the table gives each round's ratio and the
# median). Prints the table's rows as Markdown and leaves the JSON lines in
# $work/results.jsonl (KEEP_WORK=1 keeps them).
#
#   BASE_BIN=/tmp/pre-metrics/build/native/bin/compeit-server bench/metrics-cost.sh
#
# Environment: BASE_BIN (required), ROUNDS (4), DURATION (s, 15), WARMUP (s, 2),
# QUIET_WAIT (s, 20), BUILD (build/native: this tree's server and the generator).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
rounds=${ROUNDS:-4}
duration=${DURATION:-15}
warmup=${WARMUP:-2}
[[ -x "${BASE_BIN:-}" ]] || { echo "metrics-cost.sh: set BASE_BIN to the server built without metrics" >&2; exit 2; }

# shellcheck source=bench/lib.sh
source "$here/lib.sh"
build_and_copy 0
cp "$BASE_BIN" "$work/compeit-server-base"
metrics_bin=$server_bin

# Scrapes /metrics once a second while the server lives; each answer's status
# goes to $work/scrapes, and the case's JSON line gets their count.
case_hook() {
  [[ $1 == after ]] && echo ",\"scrapes\":$(grep -c '^200$' "$work/scrapes" || true)"
  return 0
}
start_scraper() {
  ( while kill -0 "$2" 2>/dev/null; do
      curl -s -o /dev/null -w '%{http_code}\n' --max-time 2 "http://127.0.0.1:$1/metrics" >>"$work/scrapes" || true
      sleep 1
    done ) &
}

# run_case with a scraper started once the server listens (lib.sh's start_case, wrapped).
eval "orig_$(declare -f start_case)"
start_case() {
  orig_start_case "$@"
  : >"$work/scrapes"
  if [[ $server_bin == "$metrics_bin" ]]; then start_scraper "$server_port" "$server_pid"; fi
}

for ((r = 1; r <= rounds; r++)); do
  for kind in base metrics; do
    if [[ $kind == base ]]; then server_bin="$work/compeit-server-base"; else server_bin=$metrics_bin; fi
    log "round $r: $kind"
    run_case native "rate200-$kind-r$r" ${scenario_flags[rate200]} --duration "$duration" --warmup "$warmup"
  done
done

node - "$work/results.jsonl" <<'EOF'
const lines = require('fs').readFileSync(process.argv[2], 'utf8').trim().split('\n').map(JSON.parse);
const rows = [];
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
console.log('| round | base µs / delivery | metrics µs / delivery | ratio | deliveries/s (base, metrics) | p99 ms (base, metrics) | scrapes | other busy cores (base, metrics) |');
console.log('|---|---|---|---|---|---|---|---|');
for (let r = 1; ; r++) {
  const b = lines.find((l) => l.scenario === `rate200-base-r${r}`);
  const m = lines.find((l) => l.scenario === `rate200-metrics-r${r}`);
  if (!b || !m) break;
  const ratio = m.server_cpu_us_per_delivery / b.server_cpu_us_per_delivery;
  rows.push(ratio);
  console.log(`| ${r} | ${b.server_cpu_us_per_delivery} | ${m.server_cpu_us_per_delivery} | ${ratio.toFixed(3)} | ` +
    `${b.deliveries_per_s}, ${m.deliveries_per_s} | ${b.p99_ms}, ${m.p99_ms} | ${m.scrapes ?? 0} | ${b.other_busy_cores}, ${m.other_busy_cores} |`);
}
const bs = lines.filter((l) => /-base-/.test(l.scenario)).map((l) => l.server_cpu_us_per_delivery);
const ms = lines.filter((l) => /-metrics-/.test(l.scenario)).map((l) => l.server_cpu_us_per_delivery);
console.log(`| **median** | ${median(bs)} | ${median(ms)} | ${median(rows).toFixed(3)} (of the medians: ${(median(ms) / median(bs)).toFixed(3)}) | | | | |`);
EOF

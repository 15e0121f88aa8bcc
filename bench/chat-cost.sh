#!/usr/bin/env bash
# Chat's cost against a plain room message (issue 20): the rate200 scenario
# (10 rooms x 10 members, 1 sender per room at 200 msg/s, the sender excluded:
# 18,000 deliveries/s) and chat200 (the same with `type: "chat"`, stored in
# SQLite before delivery, the sender included: 20,000 deliveries/s), in
# interleaved rounds against one build (plain, chat, plain, ...: the VM is
# noisy, so the table gives each round's ratio and the median). Prints the
# table's rows as Markdown and leaves the JSON lines in $work/results.jsonl
# (KEEP_WORK=1 keeps them).
#
#   bench/chat-cost.sh
#   WINDOWS="0 5 10" bench/chat-cost.sh   # chat once per --chat-commit-window in each round
#
# Environment: ROUNDS (4), DURATION (s, 8), WARMUP (s, 2), QUIET_WAIT (s, 20),
# BUILD (build/native), SERVER_BIN (another compeit-server to measure instead,
# e.g. an older build; the generator still comes from BUILD), WINDOWS (empty:
# the server's default window; else one chat case per value, in ms).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
rounds=${ROUNDS:-4}
duration=${DURATION:-8}
warmup=${WARMUP:-2}

# shellcheck source=bench/lib.sh
source "$here/lib.sh"
build_and_copy 0
if [[ -n "${SERVER_BIN:-}" ]]; then
  cp "$SERVER_BIN" "$work/compeit-server"
  BENCH_SERVER_SHA=$(sha256sum "$server_bin" | cut -c1-16)
fi
log "server sha256 $BENCH_SERVER_SHA"

read -r -a windows <<<"${WINDOWS:-default}"
for ((r = 1; r <= rounds; r++)); do
  log "round $r: plain"
  run_case native "rate200-r$r" ${scenario_flags[rate200]} --duration "$duration" --warmup "$warmup"
  for w in "${windows[@]}"; do
    log "round $r: chat, window $w"
    sflags=()
    [[ $w != default ]] && sflags=(--chat-commit-window "$w")
    run_case native "chat200-w$w-r$r" "${sflags[@]}" -- --rooms 10 --members 10 --senders 1 --rate 200 --type chat \
      --duration "$duration" --warmup "$warmup"
  done
done

node - "$work/results.jsonl" "${windows[@]}" <<'JS'
const [file, ...windows] = process.argv.slice(2);
const lines = require('fs').readFileSync(file, 'utf8').trim().split('\n').map(JSON.parse);
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const us = (l) => 1e6 * l.server_cpu_s / l.deliveries;  // finer than the rounded field
const name = (w) => (w === 'default' ? 'chat' : `chat, window ${w} ms`);
console.log(`| round | plain µs / delivery | ${windows.map((w) => `${name(w)}: µs / delivery (ratio)`).join(' | ')} | p50 / p99 ms (plain; ${windows.map(name).join('; ')}) | other busy cores (plain, chat…) |`);
console.log(`|---|---|${windows.map(() => '---|').join('')}---|---|`);
const ps = [], cs = windows.map(() => []), ratios = windows.map(() => []);
for (let r = 1; ; r++) {
  const p = lines.find((l) => l.scenario === `rate200-r${r}`);
  const c = windows.map((w) => lines.find((l) => l.scenario === `chat200-w${w}-r${r}`));
  if (!p || c.some((x) => !x)) break;
  if ([p, ...c].some((l) => l.ok === false)) { console.log(`| ${r} | failed |`); continue; }
  ps.push(us(p));
  const cells = c.map((l, i) => { const ratio = us(l) / us(p); ratios[i].push(ratio); cs[i].push(us(l)); return `${us(l).toFixed(2)} (${ratio.toFixed(2)})`; });
  console.log(`| ${r} | ${us(p).toFixed(2)} | ${cells.join(' | ')} | ${[p, ...c].map((l) => `${l.p50_ms} / ${l.p99_ms}`).join('; ')} | ${[p, ...c].map((l) => l.other_busy_cores).join(', ')} |`);
}
console.log(`| **median** | ${median(ps).toFixed(2)} | ${windows.map((w, i) => `${median(cs[i]).toFixed(2)} (${median(ratios[i]).toFixed(2)})`).join(' | ')} | | |`);
JS

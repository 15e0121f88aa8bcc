#!/usr/bin/env bash
# Builds the sanitizer preset (clang, ASan + UBSan, libFuzzer) and runs every
# fuzz target for a while: scripts/fuzz.sh [seconds-per-target] [target...]
# (default 300 s each, every target). The corpus each target grows is kept in
# build/asan/fuzz-corpus/<target>/ for the next run; the checked-in seeds
# (tests/fuzz/corpus/<target>/) are only read. A crashing input is left in
# build/asan/fuzz-artifacts/; replay it with build/asan/tests/fuzz/<target> <file>.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-300}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(fuzz_codecs fuzz_server fuzz_media fuzz_client)

scripts/build.sh asan
build=build/asan
mkdir -p "$build/fuzz-artifacts"
failed=()
for t in "${targets[@]}"; do
  corpus="$build/fuzz-corpus/$t"
  mkdir -p "$corpus"
  args=(-max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 -max_len=4096 -print_final_stats=1
        -artifact_prefix="$build/fuzz-artifacts/$t-")
  [ -f "tests/fuzz/$t.dict" ] && args+=(-dict="tests/fuzz/$t.dict")
  echo "== $t: ${seconds}s, corpus $corpus"
  if ! nice "$build/tests/fuzz/$t" "${args[@]}" "$corpus" "tests/fuzz/corpus/$t"; then
    failed+=("$t")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: crashes in ${failed[*]} (inputs in $build/fuzz-artifacts/)" >&2
  exit 1
fi
echo "fuzz.sh: ${targets[*]} ran ${seconds}s each without a crash"

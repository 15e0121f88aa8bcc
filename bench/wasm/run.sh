#!/usr/bin/env bash
# The WebAssembly client's figures (issue 4): size of .wasm + JS, raw and
# gzipped, next to socket.io-client 0.9.6's socket.io.min.js; messages decoded
# and dispatched per second inside the module in Node; where the bytes go.
# Writes bench/wasm/RESULTS.md (bench/report.mjs includes it in bench/RESULTS.md).
# Usage: bench/wasm/run.sh   (needs scripts/build.sh wasm and npm ci first)
set -euo pipefail
cd "$(dirname "$0")/../.."
export NODE_PATH=/usr/share/nodejs
pkg=build/wasm/package
sio=node_modules/socket.io-client/dist/socket.io.min.js

size_row() {  # name, files...
  local name=$1; shift
  local raw=0 gz=0
  for f in "$@"; do
    raw=$((raw + $(stat -c %s "$f")))
    gz=$((gz + $(gzip -9c "$f" | wc -c)))
  done
  printf '| %s | %s | %s |\n' "$name" "$raw" "$gz"
}

# A profiling build (function names kept) for the size breakdown.
prof=build/wasm-profile
cmake -S . -B "$prof" -DCMAKE_TOOLCHAIN_FILE="$PWD/toolchains/emscripten.cmake" -DCMAKE_BUILD_TYPE=MinSizeRel \
      -DCMAKE_EXE_LINKER_FLAGS=--profiling-funcs >/dev/null
cmake --build "$prof" -j "$(nproc)" >/dev/null

runs=()
for i in 1 2 3; do runs+=("$(node bench/wasm/dispatch.mjs 200000 100)"); done

{
  echo "## WebAssembly client (issue 4)"
  echo
  echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), source $(git describe --always --dirty)"
  echo "- command: \`bench/wasm/run.sh\` (sizes with \`gzip -9\`; dispatch: \`node bench/wasm/dispatch.mjs 200000 100\`, three runs)"
  echo
  echo "| what | bytes | gzipped |"
  echo "|---|---:|---:|"
  size_row "compeit_core.wasm" $pkg/compeit_core.wasm
  size_row "compeit_core.mjs (Emscripten glue)" $pkg/compeit_core.mjs
  size_row "compeit.mjs (the ES module API)" $pkg/compeit.mjs
  size_row "**all three (what a page loads)**" $pkg/compeit_core.wasm $pkg/compeit_core.mjs $pkg/compeit.mjs
  size_row "socket.io-client 0.9.6 socket.io.min.js (for comparison)" $sio
  echo
  echo "Goal: .wasm + glue ≤ 40 KB gzipped. The module carries the connection agent, the chat client and the"
  echo "WebRTC signalling state machine; where its code bytes go (\`bench/wasm/size_profile.py\` on a"
  echo "\`--profiling-funcs\` build):"
  echo
  python3 bench/wasm/size_profile.py "$prof/package/compeit_core.wasm"
  echo
  echo "Room messages decoded and dispatched per second inside the module (goal ≥ 200,000):"
  echo
  echo '```'
  printf '%s\n' "${runs[@]}"
  echo '```'
} > bench/wasm/RESULTS.md
cat bench/wasm/RESULTS.md

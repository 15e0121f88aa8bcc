#!/usr/bin/env bash
# Configures and builds one preset: native (default), ci, asan or wasm.
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-native}
# Debian's em++ runs its JS optimiser with Debian's acorn.
export NODE_PATH=/usr/share/nodejs${NODE_PATH:+:$NODE_PATH}
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "$(nproc)"

#!/usr/bin/env bash
# Configures and builds the native server and its tests. Usage: scripts/build.sh [preset]
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-native}
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "$(nproc)"

#!/usr/bin/env bash
# Sets up, builds (warnings are errors) and runs every test: the Catch2 unit
# tests and the Node.js harness against the real server, through ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh ci
ctest --preset ci "$@"

#!/usr/bin/env bash
# Sets up, builds (warnings are errors) and runs every test through ctest:
# the Catch2 unit tests and the Node.js harness (real socket.io-client 0.9.6,
# the WebAssembly client, headless Chromium) against the real server.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh wasm
scripts/build.sh ci
ctest --preset ci "$@"

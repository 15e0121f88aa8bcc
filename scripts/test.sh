#!/usr/bin/env bash
# Sets up, builds (warnings are errors) and runs every test through ctest:
# the Catch2 unit tests and the Node.js harness (real socket.io-client 0.9.6,
# the WebAssembly client, headless Chromium) against the real server; then
# the sanitizer build's tests (unit tests, hostile input, fuzzers).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh wasm
scripts/build.sh ci
ctest --preset ci "$@"
# The sanitizer build (clang, ASan + UBSan): the unit tests, the hostile-input
# suite against the instrumented server, and each fuzz target for a short
# fixed time over a copy of its seed corpus (label sanitizers).
scripts/build.sh asan
ctest --preset asan -L sanitizers

#!/usr/bin/env bash
# Sets up, builds and starts the server with the web app on http://localhost:8080
# (extra flags pass through to compeit-server).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --no-browser
scripts/build.sh wasm
scripts/build.sh native
exec build/native/bin/compeit-server --bind 127.0.0.1 --port 8080 "$@"

#!/usr/bin/env bash
# Installs what the project needs on Debian 12 (idempotent; quiet when done):
# the toolchain and libraries from Debian, the test harness from npm.
# Usage: scripts/setup.sh [--no-browser] [--no-wasm]
set -euo pipefail
cd "$(dirname "$0")/.."

want_browser=1
want_wasm=1
for arg in "$@"; do
  case "$arg" in
    --no-browser) want_browser=0 ;;
    --no-wasm) want_wasm=0 ;;
    *) echo "setup.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

packages=(g++ make cmake ccache pkg-config libboost1.81-dev nlohmann-json3-dev catch2 libcli11-dev libsqlite3-dev
          sqlite3 zlib1g-dev libssl-dev openssl curl ca-certificates prometheus-cpp-dev
          clang libclang-rt-14-dev  # the sanitizer build: ASan + UBSan and the libFuzzer targets (build/asan)
          liburing-dev              # --io-uring on (without it the server builds and uses sendmsg)
          util-linux                # prlimit: the resource tests start a server with a low descriptor limit
          libpq-dev postgresql)     # --chat-db postgresql://: libpq; the tests run a scratch PostgreSQL 15
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)
packages+=(redis-server haproxy)  # the cluster (scripts/run-cluster.sh, tests/cluster): Redis, haproxy in front
[ "$want_browser" = 1 ] && packages+=(chromium)
[ "$want_wasm" = 1 ] && packages+=(emscripten binaryen wabt)
[ "$want_browser" = 1 ] && packages+=(janus)  # the media-server tests run a real Janus on loopback
[ "$want_browser" = 1 ] && packages+=(iproute2)  # ip: tests/janus-media/run.sh makes a network namespace with a veth pair

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" = 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm packages: reinstall only when the lock file changed since the last install.
stamp=node_modules/.package-lock.stamp
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
  cp package-lock.json "$stamp"
fi

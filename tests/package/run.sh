#!/bin/bash
# The Debian package, end to end (ctest `package`): cpack builds the .deb from
# the build tree, dpkg-deb shows its files, conffile, scripts and dependencies,
# dpkg -x installs it into a scratch root, systemd-analyze verifies the unit
# (where it exists), and the installed binary with the installed config runs
# the Node harness's smoke test (tests/node/connection_agent.test.mjs).
#
#   tests/package/run.sh BUILD_DIR SOURCE_DIR
set -euo pipefail

build=$(realpath "${1:?build dir}")
src=$(realpath "${2:?source dir}")
node=${NODE:-node}
scratch=$(mktemp -d "${TMPDIR:-/tmp}/compeit-package.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

fail() { echo "package test: $*" >&2; exit 1; }
step() { echo "== $*"; }

step "cpack -G DEB"
cpack -G DEB --config "$build/CPackConfig.cmake" -B "$scratch/out" >"$scratch/cpack.log" 2>&1 ||
    { cat "$scratch/cpack.log" >&2; fail "cpack failed"; }
version=$(sed -n 's/^set(CPACK_PACKAGE_VERSION "\(.*\)")$/\1/p' "$build/CPackConfig.cmake")
arch=$(dpkg --print-architecture)
deb="$scratch/out/compeit-server_${version}_${arch}.deb"
[ -f "$deb" ] || fail "no $deb; cpack made: $(ls "$scratch/out")"

step "files (dpkg-deb -c)"
dpkg-deb -c "$deb" | awk '{print $NF}' | sed 's|^\./|/|' >"$scratch/files"
for f in /usr/bin/compeit-server /etc/compeit/compeit.conf /usr/lib/systemd/system/compeit-server.service \
         /usr/share/compeit/web/index.html /usr/share/compeit/wasm/package.json \
         /usr/share/compeit/socket.io-client/package.json /usr/share/compeit/socket.io-client/dist/socket.io.js \
         /usr/share/compeit/socket.io-client/dist/socket.io.min.js /usr/share/doc/compeit-server/operations.md \
         /usr/share/doc/compeit-server/examples/haproxy/compeit.cfg \
         /usr/share/doc/compeit-server/examples/run-cluster.sh; do
    grep -qxF "$f" "$scratch/files" || fail "$f is not in the package"
done
! grep -q '^/usr/share/compeit/socket.io-client/\(node_modules\|test\|lib\)' "$scratch/files" ||
    fail "socket.io-client brings more than what the server serves"

step "control (dpkg-deb -I, -e)"
dpkg-deb -e "$deb" "$scratch/control"
grep -qxF /etc/compeit/compeit.conf "$scratch/control/conffiles" || fail "compeit.conf is not a conffile"
for s in postinst prerm postrm; do
    [ -x "$scratch/control/$s" ] || fail "no executable $s"
    sh -n "$scratch/control/$s" || fail "$s is not valid sh"
done
grep -q 'adduser --system' "$scratch/control/postinst" || fail "postinst makes no system user"
depends=$(dpkg-deb -f "$deb" Depends)
echo "Depends: $depends"
for d in adduser libssl libsqlite3 libpq libc6 libstdc++; do
    [[ "$depends" == *"$d"* ]] || fail "Depends lacks $d"
done
[ "$(dpkg-deb -f "$deb" Package)" = compeit-server ] || fail "wrong Package field"

step "dpkg -x"
root="$scratch/root"
dpkg -x "$deb" "$root"
bin="$root/usr/bin/compeit-server"
[ -x "$bin" ] || fail "no executable $bin"
unit="$root/usr/lib/systemd/system/compeit-server.service"
grep -qx 'ExecStart=/usr/bin/compeit-server --config /etc/compeit/compeit.conf' "$unit" ||
    fail "the unit does not start the server with the packaged config"

if command -v systemd-analyze >/dev/null; then
    step "systemd-analyze verify"
    # A copy whose ExecStart is the scratch binary (the real path is not there
    # until the package is installed); the user is made by postinst.
    mkdir -p "$scratch/units"
    sed -e "s|^ExecStart=/usr/bin/compeit-server|ExecStart=$bin|" \
        -e "s|^Documentation=.*|Documentation=man:compeit-server(8)|" "$unit" >"$scratch/units/compeit-server.service"
    if ! SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no "$scratch/units/compeit-server.service" \
            >"$scratch/verify.log" 2>&1; then
        cat "$scratch/verify.log" >&2
        fail "systemd-analyze verify failed"
    fi
    # Warnings about the unit's own lines fail too; what a scratch root cannot
    # resolve (targets, users) is not about the unit.
    if grep -i 'compeit-server.service:[0-9]' "$scratch/verify.log"; then fail "systemd-analyze complains"; fi
else
    echo "(no systemd-analyze: unit not verified)"
fi

step "the installed server against the Node smoke test"
wrapper="$scratch/compeit-server"
cat >"$wrapper" <<WRAP
#!/bin/sh
# The installed binary with the installed config, its paths moved to the scratch root
# (the harness adds --bind, --port and --data-dir).
exec "$bin" --config "$root/etc/compeit/compeit.conf" \\
    --web-root "$root/usr/share/compeit/web" --wasm-dir "$root/usr/share/compeit/wasm" \\
    --legacy-client "$root/usr/share/compeit/socket.io-client" "\$@"
WRAP
chmod +x "$wrapper"
cd "$src"
COMPEIT_SERVER="$wrapper" "$node" --test --test-concurrency=1 tests/node/connection_agent.test.mjs \
    tests/package/served.test.mjs
echo "package test: ok"

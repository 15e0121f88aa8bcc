#!/usr/bin/env bash
# The Janus media tests (tests/janus-media/*.test.mjs) inside a network
# namespace of their own: Janus cannot gather ICE candidates on loopback alone,
# so this script makes a new namespace (unshare -n), brings up lo and a veth
# pair with both ends inside it (10.203.0.1/24 on cjm0, 10.203.0.2/24 on cjm1),
# and runs the tests there; Janus, compeit-server and Chromium, all started by
# the tests, share that namespace. The namespace goes with the last process in
# it: there is nothing to clean up.
#
# Run (as root, or with CAP_NET_ADMIN and CAP_SYS_ADMIN):
#   tests/janus-media/run.sh [extra node --test arguments]
# Exit code 77 (ctest: SKIP_RETURN_CODE) when the namespace cannot be made.
set -euo pipefail
cd "$(dirname "$0")/../.."

SKIP=77
IP=${IP:-$(command -v ip || echo /usr/sbin/ip)}
UNSHARE=${UNSHARE:-$(command -v unshare || echo /usr/bin/unshare)}
for tool in "$IP" "$UNSHARE"; do
  if [ ! -x "$tool" ]; then
    echo "janus-media: SKIPPED: $tool not found (needs iproute2 and util-linux)" >&2
    exit $SKIP
  fi
done

# Inside the namespace (run by the unshare below).
if [ "${1-}" = "--inside-netns" ]; then
  shift
  # Only ever in a fresh namespace (nothing but lo): never touch the host's network.
  if [ "$("$IP" -o link show | wc -l)" != 1 ]; then
    echo "janus-media: --inside-netns is for run.sh itself, in the namespace it makes" >&2
    exit 2
  fi
  "$IP" link set lo up
  "$IP" link add cjm0 type veth peer name cjm1
  "$IP" addr add 10.203.0.1/24 dev cjm0
  "$IP" addr add 10.203.0.2/24 dev cjm1
  "$IP" link set cjm0 up
  "$IP" link set cjm1 up
  # Chromium finds its own address by the default route.
  "$IP" route add default via 10.203.0.2 dev cjm0
  export JANUS_MEDIA_IFACES=cjm0,cjm1  # the test finds the veth pair by these names
  exec "${NODE:-node}" --test --test-concurrency=1 "$@" tests/janus-media/
fi

# Can we make a network namespace with a veth pair? Tried first, so that a
# missing capability is reported as such and not as a test failure.
if ! probe=$("$UNSHARE" -n -- "$IP" link add cjmprobe0 type veth peer name cjmprobe1 2>&1); then
  echo "janus-media: SKIPPED: cannot create a network namespace with a veth pair (needs root or CAP_NET_ADMIN + CAP_SYS_ADMIN): $probe" >&2
  exit $SKIP
fi
exec "$UNSHARE" -n -- "$0" --inside-netns "$@"

#!/usr/bin/env bash
# Prints deploy/haproxy/compeit.cfg for your own nodes: the line marked @bind listens on
# --bind, the one marked @socket puts the runtime API at --socket, and the server lines
# between @nodes-begin and @nodes-end become one per NAME=HOST:PORT (NAME is the node's
# --node). Everything else is compeit.cfg as written, so there is one configuration.
#
#   deploy/haproxy/make-config.sh [--bind ADDR:PORT] [--socket PATH] NAME=HOST:PORT...
#   deploy/haproxy/make-config.sh --bind 127.0.0.1:8080 n1=127.0.0.1:8081 n2=127.0.0.1:8082 > cluster.cfg
set -euo pipefail
template="$(dirname "$0")/compeit.cfg"

usage() { echo "usage: $0 [--bind ADDR:PORT] [--socket PATH] NAME=HOST:PORT..." >&2; exit 2; }

bind='' socket='' servers=''
while [ $# -gt 0 ]; do
  case "$1" in
    --bind) [ $# -ge 2 ] || usage; bind=$2; shift 2 ;;
    --socket) [ $# -ge 2 ] || usage; socket=$2; shift 2 ;;
    -*) usage ;;
    *)
      [[ "$1" =~ ^([a-z0-9-]{1,16})=([^[:space:]]+:[0-9]+)$ ]] ||
        { echo "make-config.sh: '$1' is not NAME=HOST:PORT (NAME: 1-16 of a-z 0-9 -)" >&2; exit 2; }
      servers+="    server ${BASH_REMATCH[1]} ${BASH_REMATCH[2]}"$'\n'
      shift ;;
  esac
done
[ -n "$servers" ] || usage
[[ "$bind$socket" != *[[:space:]]* ]] || { echo "make-config.sh: no spaces in --bind or --socket" >&2; exit 2; }

awk -v bind="$bind" -v socket="$socket" -v servers="$servers" '
  /^ *# @nodes-begin$/ { print; printf "%s", servers; skipping = 1; next }
  /^ *# @nodes-end$/   { skipping = 0 }
  skipping             { next }
  /# @bind$/   && bind != ""   { sub(/bind [^ ]+/, "bind " bind) }
  /# @socket$/ && socket != "" { sub(/stats socket [^ ]+/, "stats socket " socket) }
  { print }
' "$template"

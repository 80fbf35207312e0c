#!/usr/bin/env bash
# Make sure Debian's redis-server (and redis-cli) is installed: the multi-node LiveKit tests and
# the two-node local mode run a throwaway one on loopback. Installs it with apt as root; without
# root it says how. Under CI=true a redis-server that cannot be had is a failure.
set -euo pipefail
if command -v redis-server >/dev/null && command -v redis-cli >/dev/null; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "[redis-server] installing Debian's redis-server (first time only)..." >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >&2
  exit 0
fi
echo "[redis-server] not installed: run 'sudo apt-get install redis-server' (multi-node tests skip without it)" >&2
if [ "${CI:-}" = "true" ]; then exit 1; fi

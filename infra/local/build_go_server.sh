#!/usr/bin/env bash
# Build a Go server from its module at a pinned version into a cache outside the repo, keyed by
# version, and print the binary's path. Reuses the binary when it is already there.
#   usage: build_go_server.sh <name> <module path of the main package> <version> [binary name go emits]
set -euo pipefail
name="$1"; module="$2"; version="$3"; emitted="${4:-$(basename "$module")}"
cache="${AIRWAVES_CACHE:-$HOME/.cache/airwaves}"
dest="$cache/$name/$version"
bin="$dest/$name"
if [ -x "$bin" ]; then
  echo "$bin"
  exit 0
fi
command -v go >/dev/null || { echo "[$name] Go is needed to build $name (https://go.dev/dl/)" >&2; exit 1; }
echo "[$name] building $module@$version with $(go version | cut -d' ' -f3) (first time only)..." >&2
tmp="$(mktemp -d "$cache/.build-$name.XXXXXX" 2>/dev/null || { mkdir -p "$cache"; mktemp -d "$cache/.build-$name.XXXXXX"; })"
trap 'rm -rf "$tmp"' EXIT
# -v lists each package as it compiles: that is the progress report.
GOBIN="$tmp" GOFLAGS="${GOFLAGS:-} -buildvcs=false" go install -v "$module@$version" 2>&1 | sed -u "s/^/[$name] /" >&2
mkdir -p "$dest"
mv "$tmp/$emitted" "$bin"
echo "[$name] built $bin" >&2
echo "$bin"

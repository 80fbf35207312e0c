#!/usr/bin/env bash
# Build livekit-server from its Go module at the pinned version (cached by version outside the
# repo; reused when present) and print the binary's path. `make up` and the tests call this.
set -euo pipefail
LIVEKIT_VERSION="${LIVEKIT_VERSION:-v1.13.5}"
here="$(cd "$(dirname "$0")" && pwd)"
exec bash "$here/../infra/local/build_go_server.sh" livekit-server \
  github.com/livekit/livekit-server/cmd/server "$LIVEKIT_VERSION" server

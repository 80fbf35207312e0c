"""Registers livekit-server with the local stack: built from source on first use (pinned by
``livekit/build.sh``), run with ``livekit/livekit.local.yaml`` at ws://127.0.0.1:7880, keys from
the local stage's environment."""
from __future__ import annotations

import os
import subprocess
import sys

from infra.local.livekit_config import LOCAL_CONFIG, ROOT
from infra.local.stack import SERVERS, Server, http_ok


def binary() -> str:
    """Build (first time; progress on stderr) or find the cached server, and return its path."""
    out = subprocess.run(["bash", str(ROOT / "livekit" / "build.sh")], stdout=subprocess.PIPE, stderr=sys.stderr,
                         text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


def keys_environment() -> dict[str, str]:
    key = os.environ.get("AIRWAVES_LIVEKIT_API_KEY", "")
    secret = os.environ.get("AIRWAVES_LIVEKIT_API_SECRET", "")
    if not key or not secret:
        raise SystemExit("AIRWAVES_LIVEKIT_API_KEY/SECRET are missing from the local stage (chalicefile.json)")
    return {"LIVEKIT_KEYS": f"{key}: {secret}"}


SERVERS.append(Server(
    name="livekit",
    command=lambda: [binary(), "--config", str(LOCAL_CONFIG)],
    ready=lambda: http_ok("http://127.0.0.1:7880/"),
    url="ws://127.0.0.1:7880",
    env=keys_environment,
))

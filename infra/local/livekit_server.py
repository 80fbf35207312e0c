"""Registers livekit-server with the local stack: built from source on first use (pinned by
``livekit/build.sh``), run with ``livekit/livekit.local.yaml`` at ws://127.0.0.1:7880, keys from
the local stage's environment.

``AIRWAVES_LIVEKIT_NODES=2 make up`` runs the production's multi-node routing instead: Debian's
``redis-server`` on 127.0.0.1:6390 and two nodes sharing it, node 0 at ws://127.0.0.1:7880 (the
API's and clients' URL, as before) and node 1 at ws://127.0.0.1:7890, each the local config on its
own ports plus ``redis`` and the production node selector (``tests/fixtures_cluster.py`` tests the
same mode)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

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


REDIS_PORT = 6390
NODE_PORTS = ((7880, 7881, 7882), (7890, 7891, 7892))  # signalling, ICE/TCP, UDP media of each node
WEBHOOK_URL = "http://127.0.0.1:8000/v1/webhooks/livekit"


def _redis_ready() -> bool:
    cli = shutil.which("redis-cli") or "redis-cli"
    try:
        out = subprocess.run([cli, "-p", str(REDIS_PORT), "ping"], capture_output=True, text=True, timeout=2)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.stdout.strip() == "PONG"


def _node_config(n: int) -> str:
    """Write node ``n``'s config (the local config on its ports, routed through Redis); its path."""
    from infra.local.livekit_config import render_local_config

    port, tcp, udp = NODE_PORTS[n]
    path = Path(tempfile.gettempdir()) / f"airwaves-livekit-node{n}.yaml"
    path.write_text(render_local_config(port=port, tcp_port=tcp, udp_port=udp,
                                        api_key=os.environ.get("AIRWAVES_LIVEKIT_API_KEY", ""),
                                        webhook_url=WEBHOOK_URL, redis_address=f"127.0.0.1:{REDIS_PORT}"))
    return str(path)


def servers(nodes: int) -> list[Server]:
    """What the stack runs for ``nodes`` LiveKit nodes (1: the plain local config)."""
    if nodes == 1:
        return [Server(name="livekit", command=lambda: [binary(), "--config", str(LOCAL_CONFIG)],
                       ready=lambda: http_ok("http://127.0.0.1:7880/"), url="ws://127.0.0.1:7880",
                       env=keys_environment)]
    if nodes != len(NODE_PORTS):
        raise SystemExit(f"AIRWAVES_LIVEKIT_NODES must be 1 or {len(NODE_PORTS)}")
    redis = Server(name="redis", command=lambda: [shutil.which("redis-server") or "redis-server", "--bind", "127.0.0.1",
                                                  "--port", str(REDIS_PORT), "--save", "", "--appendonly", "no"],
                   ready=_redis_ready, url=f"redis://127.0.0.1:{REDIS_PORT}")
    return [redis, *(Server(name="livekit" if n == 0 else f"livekit-{n}",
                            command=lambda n=n: [binary(), "--config", _node_config(n)],
                            ready=lambda port=ports[0]: http_ok(f"http://127.0.0.1:{port}/"),
                            url=f"ws://127.0.0.1:{ports[0]}", env=keys_environment)
                     for n, ports in enumerate(NODE_PORTS))]


SERVERS.extend(servers(int(os.environ.get("AIRWAVES_LIVEKIT_NODES", "1"))))

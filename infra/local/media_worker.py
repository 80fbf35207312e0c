"""Registers the media worker (``livekit/worker``, issue 13) with the local stack: started after
livekit-server, in its own venv (``make worker-install``), talking to the local API, LiveKit and
moto's S3 with the local stage's settings. Ready when its health endpoint answers."""
from __future__ import annotations

import os

from infra.local.livekit_config import ROOT
from infra.local.stack import SERVERS, Server, http_ok

WORKER_DIR = ROOT / "livekit" / "worker"
HEALTH_PORT = int(os.environ.get("AIRWAVES_MEDIA_HTTP_PORT", "8089"))


def environment() -> dict[str, str]:
    env = os.environ
    return {
        "PYTHONPATH": str(WORKER_DIR),
        "LIVEKIT_URL": env.get("AIRWAVES_LIVEKIT_URL", "ws://127.0.0.1:7880"),
        "LIVEKIT_API_KEY": env.get("AIRWAVES_LIVEKIT_API_KEY", ""),
        "LIVEKIT_API_SECRET": env.get("AIRWAVES_LIVEKIT_API_SECRET", ""),
        "AIRWAVES_API_URL": env.get("AIRWAVES_API_URL", f"http://127.0.0.1:{env.get('AIRWAVES_API_PORT', '8000')}"),
        "AIRWAVES_MEDIA_HTTP_PORT": str(HEALTH_PORT),
    }


SERVERS.append(Server(
    name="media",
    command=lambda: [str(WORKER_DIR / ".venv" / "bin" / "python"), "-m", "airwaves_media"],
    ready=lambda: http_ok(f"http://127.0.0.1:{HEALTH_PORT}/"),
    url=f"http://127.0.0.1:{HEALTH_PORT}/worker (health)",
    env=environment,
))

"""The worker's settings, from the environment (the same names the local stage and the template set)."""
from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    livekit_url: str
    livekit_api_key: str
    livekit_api_secret: str
    api_url: str
    worker_secret: str
    bucket: str
    aws_endpoint_url: str | None
    poll_seconds: float = 1.0
    clip_buffer_seconds: float = 120.0

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ

        def need(*names: str) -> str:
            for name in names:
                if env.get(name):
                    return env[name]
            raise SystemExit(f"the media worker needs {' or '.join(names)}")

        return cls(
            livekit_url=need("LIVEKIT_URL", "AIRWAVES_LIVEKIT_URL"),
            livekit_api_key=need("LIVEKIT_API_KEY", "AIRWAVES_LIVEKIT_API_KEY"),
            livekit_api_secret=need("LIVEKIT_API_SECRET", "AIRWAVES_LIVEKIT_API_SECRET"),
            api_url=need("AIRWAVES_API_URL").rstrip("/"),
            worker_secret=need("AIRWAVES_MEDIA_WORKER_SECRET"),
            bucket=need("AIRWAVES_MEDIA_BUCKET"),
            aws_endpoint_url=env.get("AWS_ENDPOINT_URL") or None,
            poll_seconds=float(env.get("AIRWAVES_MEDIA_POLL_SECONDS", "1.0")),
            clip_buffer_seconds=float(env.get("AIRWAVES_MEDIA_CLIP_BUFFER_SECONDS", "120")),
        )

    @property
    def http_livekit_url(self) -> str:
        return self.livekit_url.replace("wss://", "https://").replace("ws://", "http://")

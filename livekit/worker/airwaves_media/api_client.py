"""The worker's half of the internal media routes (MEDIA_CONTRACT.md): read what a Space needs,
report recordings and clips. Every call carries the worker secret; a failed call is retried by
the next poll (the reports are idempotent)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx


@dataclass
class PendingClip:
    clip_id: str
    duration_seconds: float


@dataclass
class SpaceMedia:
    space_id: str
    state: str
    started_at: datetime | None
    recording: bool
    captions: bool
    clips_enabled: bool
    language: str
    stage_user_ids: list[str] = field(default_factory=list)
    pending_clips: list[PendingClip] = field(default_factory=list)
    hls_live: bool = False  # cut the live stage as HLS for listeners past the WebRTC cap (live.py)

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> SpaceMedia:
        started = body.get("started_at")
        return cls(
            space_id=body["space_id"], state=body.get("state", ""),
            started_at=datetime.fromisoformat(started.replace("Z", "+00:00")) if started else None,
            recording=bool(body.get("recording")), captions=bool(body.get("captions")),
            clips_enabled=bool(body.get("clips_enabled", True)), language=body.get("language") or "en",
            stage_user_ids=list(body.get("stage_user_ids") or []),
            pending_clips=[PendingClip(c["clip_id"], float(c.get("duration_seconds") or 30))
                           for c in body.get("pending_clips") or []],
            hls_live=bool(body.get("hls_live")),
        )


class MediaApi:
    def __init__(self, base_url: str, secret: str, *, timeout: float = 5.0, request_id: str | None = None) -> None:
        """``request_id``: sent as ``X-Request-Id``, so the API's lines for this job's calls carry
        the job's id as their ``correlation_id`` (the worker's own lines carry it as ``job_id``)."""
        headers = {"Authorization": f"Bearer {secret}"}
        if request_id:
            headers["X-Request-Id"] = request_id
        self.http = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout, headers=headers)

    async def space(self, space_id: str) -> SpaceMedia | None:
        """The Space's media state; ``None`` when the API does not know it."""
        res = await self.http.get(f"/internal/media/spaces/{space_id}")
        if res.status_code == 404:
            return None
        res.raise_for_status()
        return SpaceMedia.from_json(res.json())

    async def put_recording(self, space_id: str, state: str, duration_seconds: float, *,
                            hls_key: str | None = None, ogg_key: str | None = None) -> None:
        res = await self.http.put(f"/internal/media/spaces/{space_id}/recording", json={
            "state": state, "duration_seconds": round(duration_seconds, 3), "hls_key": hls_key, "ogg_key": ogg_key})
        res.raise_for_status()

    async def put_clip(self, space_id: str, clip_id: str, state: str, duration_seconds: float,
                       key: str | None) -> None:
        res = await self.http.put(f"/internal/media/spaces/{space_id}/clips/{clip_id}", json={
            "state": state, "key": key, "duration_seconds": round(duration_seconds, 3)})
        res.raise_for_status()

    async def post_segments(self, space_id: str, segments: list[dict[str, Any]]) -> None:
        res = await self.http.post(f"/internal/media/spaces/{space_id}/transcript-segments", json={"segments": segments})
        res.raise_for_status()

    async def put_caption_engine(self, engine: str, languages: list[str] | None) -> None:
        """This worker's caption engine and the languages it transcribes (``None``: any)."""
        res = await self.http.put("/internal/media/caption-engine", json={"engine": engine, "languages": languages})
        res.raise_for_status()

    async def aclose(self) -> None:
        await self.http.aclose()

"""Recorded media fixtures: the media bucket on moto's S3, and ``worker``, a stand-in for the
media worker (``livekit/worker/``) that writes what the contract says it writes
(``notes/MEDIA_CONTRACT.md``) to S3 and reports it through the API's internal routes."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import pytest

SEGMENT_SECONDS = 2.0


def s3() -> Any:
    import boto3

    return boto3.client("s3", region_name="us-east-1")


def bucket() -> str:
    return os.environ["AIRWAVES_MEDIA_BUCKET"]


def object_keys(prefix: str = "spaces/") -> list[str]:
    listed = s3().list_objects_v2(Bucket=bucket(), Prefix=prefix)
    return sorted(o["Key"] for o in listed.get("Contents", []))


@pytest.fixture
def media_bucket(aws) -> str:
    s3().create_bucket(Bucket=bucket())
    return bucket()


def playlist(segments: list[str], *, ended: bool, discontinuity_before: int | None = None) -> str:
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", f"#EXT-X-TARGETDURATION:{int(SEGMENT_SECONDS)}",
             "#EXT-X-MEDIA-SEQUENCE:0", "#EXT-X-PLAYLIST-TYPE:EVENT"]
    for i, name in enumerate(segments):
        if discontinuity_before == i:
            lines.append("#EXT-X-DISCONTINUITY")
        lines += [f"#EXTINF:{SEGMENT_SECONDS:.3f},", name]
    if ended:
        lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


@dataclass
class FakeWorker:
    """Writes a Space's recording the way the worker does and reports it to the API."""

    api: Any
    secret: str

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret}"}

    def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        return self.api.call(method, path, body=body, headers=self.headers() if headers is None else headers)

    def state(self, space_id: str) -> Any:
        res = self.call("GET", f"/internal/media/spaces/{space_id}")
        assert res.status_code == 200, res.body
        return res.json

    def write_recording(self, space_id: str, n_segments: int, *, ended: bool,
                        discontinuity_before: int | None = None) -> None:
        names = [f"{i:06d}.ts" for i in range(n_segments)]
        for name in names:
            s3().put_object(Bucket=bucket(), Key=f"spaces/{space_id}/hls/{name}", Body=f"TS {name}".encode())
        s3().put_object(Bucket=bucket(), Key=f"spaces/{space_id}/hls/playlist.m3u8",
                        Body=playlist(names, ended=ended, discontinuity_before=discontinuity_before).encode())
        if ended:
            s3().put_object(Bucket=bucket(), Key=f"spaces/{space_id}/recording.ogg", Body=b"OggS fake opus")

    def report(self, space_id: str, state: str, duration: float, *, with_keys: bool = True) -> Any:
        body = {"state": state, "duration_seconds": duration,
                "hls_key": f"spaces/{space_id}/hls/playlist.m3u8" if with_keys else None,
                "ogg_key": f"spaces/{space_id}/recording.ogg" if with_keys and state == "available" else None}
        res = self.call("PUT", f"/internal/media/spaces/{space_id}/recording", body)
        assert res.status_code == 204, res.body
        return res

    def record(self, space_id: str, n_segments: int) -> None:
        """A whole recording, finalized."""
        self.write_recording(space_id, n_segments, ended=True)
        self.report(space_id, "available", n_segments * SEGMENT_SECONDS)

    def finish_clip(self, space_id: str, clip_id: str, *, seconds: float = 30.0) -> Any:
        key = f"spaces/{space_id}/clips/{clip_id}.ogg"
        s3().put_object(Bucket=bucket(), Key=key, Body=b"OggS clip")
        return self.call("PUT", f"/internal/media/spaces/{space_id}/clips/{clip_id}",
                         {"state": "available", "key": key, "duration_seconds": seconds})


@pytest.fixture
def worker(api, media_bucket) -> FakeWorker:
    return FakeWorker(api, os.environ["AIRWAVES_MEDIA_WORKER_SECRET"])

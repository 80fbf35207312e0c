"""The Space's media objects in S3 (layout in MEDIA_CONTRACT.md). boto3 is synchronous: callers
on the event loop run these in a thread (``asyncio.to_thread``)."""
from __future__ import annotations

from typing import Any

import boto3
from botocore.exceptions import ClientError


def space_prefix(space_id: str) -> str:
    return f"spaces/{space_id}/"


def hls_prefix(space_id: str) -> str:
    return f"spaces/{space_id}/hls/"


def playlist_key(space_id: str) -> str:
    return f"spaces/{space_id}/hls/playlist.m3u8"


def live_prefix(space_id: str) -> str:
    """The live stage as HLS for listeners past the WebRTC cap (``live.py``)."""
    return f"spaces/{space_id}/live/"


def live_playlist_key(space_id: str) -> str:
    return f"spaces/{space_id}/live/playlist.m3u8"


def ogg_key(space_id: str) -> str:
    return f"spaces/{space_id}/recording.ogg"


def clip_key(space_id: str, clip_id: str) -> str:
    return f"spaces/{space_id}/clips/{clip_id}.ogg"


class Store:
    def __init__(self, bucket: str, endpoint_url: str | None = None) -> None:
        self.bucket = bucket
        self.s3: Any = boto3.client("s3", endpoint_url=endpoint_url)

    def put(self, key: str, body: bytes, content_type: str) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type,
                           CacheControl="no-cache" if key.endswith(".m3u8") else "max-age=86400")

    def delete(self, key: str) -> None:
        self.s3.delete_object(Bucket=self.bucket, Key=key)

    def get(self, key: str) -> bytes | None:
        try:
            return bytes(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise

"""Recorded media, the API's share (issue 13): what a replay GET costs as the recording grows
(the first ask in a URL window reads the playlist from S3, presigns every segment URI and writes
the playable playlist back; later asks only check it exists and presign it), the media worker's once-a-second poll (``GET /internal/media/spaces/{id}``) and
a clip request. In process: Chalice test client on moto's DynamoDB and S3; presigning is local
HMAC work, so its share is what a Lambda pays too (S3 round trips are not in these numbers)."""
from __future__ import annotations

import json
import os
import time

from bench.stats import p50_p99

SEGMENT_SECONDS = 2
LENGTHS_MINUTES = (1, 30, 120)
GETS = 12
POLLS = 200


def _playlist(n: int) -> str:
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:2", "#EXT-X-MEDIA-SEQUENCE:0"]
    for i in range(n):
        lines += [f"#EXTINF:{SEGMENT_SECONDS:.3f},", f"{i:06d}.ts"]
    return "\n".join([*lines, "#EXT-X-ENDLIST"]) + "\n"


def main() -> None:
    from unittest.mock import patch

    from chalice.test import Client
    from moto import mock_aws

    from infra.local.stage import apply_stage_environment

    apply_stage_environment("local", AIRWAVES_TABLE_NAME="airwaves-bench")
    from chalicelib.adapters.livekit import LiveKitMedia
    from tests.fixtures_livekit import FakeLiveKit

    in_memory_media = patch.object(LiveKitMedia, "from_settings",
                                   classmethod(lambda cls, settings, secrets: FakeLiveKit()))
    with mock_aws(), in_memory_media:
        import boto3

        from chalicelib.adapters.dynamodb.schema import ensure_table
        from chalicelib.container import reset_container
        from infra.local.scheduler_runner import provision

        ensure_table(boto3.client("dynamodb", region_name="us-east-1"), "airwaves-bench")
        provision()
        bucket = os.environ["AIRWAVES_MEDIA_BUCKET"]
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=bucket)
        reset_container()
        from app import app

        worker = {"Content-Type": "application/json",
                  "Authorization": f"Bearer {os.environ['AIRWAVES_MEDIA_WORKER_SECRET']}"}
        with Client(app) as client:
            token = json.loads(client.http.post("/v1/dev/tokens", headers={"Content-Type": "application/json"},
                                                body=json.dumps({"user_id": "host", "admin": True})).body)["token"]
            host = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
            client.http.put("/v1/admin/users/host", headers=host,
                            body=json.dumps({"handle": "host", "display_name": "Host", "follower_count": 5000}))
            for minutes in LENGTHS_MINUTES:
                n = minutes * 60 // SEGMENT_SECONDS
                sid = json.loads(client.http.post("/v1/spaces", headers=host, body=json.dumps(
                    {"title": f"{minutes} min", "recording": True})).body)["id"]
                client.http.post(f"/v1/spaces/{sid}/end", headers=host)
                s3.put_object(Bucket=bucket, Key=f"spaces/{sid}/hls/playlist.m3u8", Body=_playlist(n).encode())
                client.http.put(f"/internal/media/spaces/{sid}/recording", headers=worker, body=json.dumps(
                    {"state": "available", "duration_seconds": n * SEGMENT_SECONDS,
                     "hls_key": f"spaces/{sid}/hls/playlist.m3u8", "ogg_key": f"spaces/{sid}/recording.ogg"}))
                times, size = [], 0
                for _ in range(GETS):
                    began = time.perf_counter()
                    res = client.http.get(f"/v1/spaces/{sid}/replay", headers=host)
                    times.append((time.perf_counter() - began) * 1000)
                    assert res.status_code == 200, res.body
                playable = s3.list_objects_v2(Bucket=bucket, Prefix=f"spaces/{sid}/playback/")["Contents"]
                size = max(o["Size"] for o in playable)
                print(f"GET replay, {minutes:>3} min ({n:>4} segments): first ask (rewrite + presign every "
                      f"segment) {times[0]:.0f} ms; later asks in the window {p50_p99(times[1:])}; "
                      f"playable playlist {size / 1024:.0f} KiB")
            sid = json.loads(client.http.post("/v1/spaces", headers=host, body=json.dumps(
                {"title": "live", "recording": True})).body)["id"]
            polls, clips = [], []
            for _ in range(POLLS):
                began = time.perf_counter()
                client.http.get(f"/internal/media/spaces/{sid}", headers=worker)
                polls.append((time.perf_counter() - began) * 1000)
            for i in range(5):
                began = time.perf_counter()
                client.http.post(f"/v1/spaces/{sid}/clips", headers={**host, "Idempotency-Key": f"c{i}"})
                clips.append((time.perf_counter() - began) * 1000)
            print(f"worker poll GET /internal/media/spaces/{{id}}: {p50_p99(polls)} requests "
                  "(one consistent GetItem + one pending-clips Query each)")
            print(f"POST clips (request only; the file is the worker's): {p50_p99(clips)} requests")


if __name__ == "__main__":
    main()

"""``make up`` creates the recorded-media bucket in moto's server mode (what the worker writes to)."""
from __future__ import annotations

import boto3

from infra.local.stack import ensure_media_bucket
from tests.processes import free_port


def test_the_local_stack_creates_the_media_bucket_once():
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        client = boto3.client("s3", region_name="us-east-1", endpoint_url=f"http://127.0.0.1:{port}")
        ensure_media_bucket(client, "airwaves-local-media")
        ensure_media_bucket(client, "airwaves-local-media")  # a second start finds it
        ensure_media_bucket(client, "")  # not configured: nothing
        assert [b["Name"] for b in client.list_buckets()["Buckets"]] == ["airwaves-local-media"]
        client.put_object(Bucket="airwaves-local-media", Key="spaces/x/hls/playlist.m3u8", Body=b"#EXTM3U\n")
        url = client.generate_presigned_url("get_object", Params={"Bucket": "airwaves-local-media",
                                                                   "Key": "spaces/x/hls/playlist.m3u8"})
        import requests

        assert requests.get(url, timeout=5).content == b"#EXTM3U\n"
    finally:
        server.stop()

"""In-room message numbers.

1. The ``POST /v1/spaces/{id}/messages`` route in process (auth, routing, validation, one batch
   read, the rate-limit write, the message write; DynamoDB on moto), with the media server's
   ``send_data`` answered in memory, next to ``POST /v1/spaces/{id}/join`` on the same stack.
2. Delivery latency through a real local livekit-server: from the API call (the real LiveKit
   adapter's ``SendData``) to a connected SDK client's ``data_received`` of that message, on
   loopback (p50/p99).
"""
from __future__ import annotations

import asyncio
import json
import secrets
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bench.stats import percentile

ROUTE_CALLS = 300
DELIVERIES = 100


def _report(label: str, seconds: list[float], unit: str = "us") -> None:
    scale = 1e6 if unit == "us" else 1e3
    xs = [s * scale for s in seconds]
    print(f"  {label:<48} p50 {percentile(xs, .50):8.1f} {unit}  p99 {percentile(xs, .99):8.1f} {unit}  "
          f"(n={len(seconds)}, {1 / statistics.mean(seconds):7.0f} /s)")


@contextmanager
def _stack(env: dict[str, str] | None = None) -> Iterator[Any]:
    """The app in process on moto with one live Space ``sp_bench`` hosted by ``h``."""
    import os

    from chalice.test import Client
    from moto import mock_aws

    from infra.local.stage import apply_stage_environment, make_moto_dynamodb_atomic

    apply_stage_environment("local", AIRWAVES_TABLE_NAME="airwaves-bench-chat")
    os.environ.update(env or {})
    make_moto_dynamodb_atomic()
    with mock_aws():
        import boto3

        from chalicelib.adapters.dynamodb.schema import ensure_table
        from chalicelib.container import get_container, reset_container
        from chalicelib.domain.clock import utcnow
        from chalicelib.domain.spaces import Space, SpaceState

        ensure_table(boto3.client("dynamodb", region_name="us-east-1"), "airwaves-bench-chat")
        reset_container()
        now = utcnow()
        get_container().space_repo.create(Space(id="sp_bench", host_id="h", title="t", state=SpaceState.live,
                                                created_at=now, updated_at=now))
        from app import app

        with Client(app) as client:
            yield client
        reset_container()


def _tokens(client: Any, n: int) -> list[str]:
    out = []
    for i in range(n):
        res = client.http.post("/v1/dev/tokens", headers={"Content-Type": "application/json"},
                               body=json.dumps({"user_id": f"u{i}"}))
        out.append(json.loads(res.body)["token"])
    return out


def _post(client: Any, token: str, path: str, body: dict | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    return client.http.post(path, headers=headers, body=json.dumps(body) if body is not None else None)


def route_cost() -> None:
    from chalicelib.adapters.livekit import LiveKitMedia

    print("in-process route cost (moto DynamoDB, send_data answered in memory):")
    original = LiveKitMedia.send_data
    LiveKitMedia.send_data = lambda self, *a, **k: None  # type: ignore[method-assign]
    try:
        with _stack() as client:
            tokens = _tokens(client, ROUTE_CALLS)
            for label, path, body, code in (
                    ("POST /v1/spaces/{id}/join", "/v1/spaces/sp_bench/join", None, 200),
                    ("POST /v1/spaces/{id}/messages", "/v1/spaces/sp_bench/messages", {"text": "hello room"}, 201)):
                times = []
                for token in tokens:  # one per person: the per-person rate never refuses
                    began = time.perf_counter()
                    res = _post(client, token, path, body)
                    times.append(time.perf_counter() - began)
                    assert res.status_code == code, res.body
                _report(label, times)
    finally:
        LiveKitMedia.send_data = original  # type: ignore[method-assign]


async def _deliveries(client: Any, media: Any, tokens: list[str]) -> list[float]:
    from tests.integration.audio_clients import connect, eventually

    listener = await connect(media.client_url, media.join_token("sp_bench", "listener", "listener")[0])
    latencies = []
    try:
        for i, token in enumerate(tokens):
            text = f"m{i}"
            began = time.perf_counter()
            res = await asyncio.to_thread(_post, client, token, "/v1/spaces/sp_bench/messages", {"text": text})
            assert res.status_code == 201, res.body
            await eventually(lambda t=text: any(p.get("text") == t for _, p in listener.data), 5, text, every=0.0005)
            latencies.append(time.perf_counter() - began)
    finally:
        await listener.close()
    return latencies


def delivery_latency() -> None:
    from bench.bench_media import local_livekit_server

    print(f"message delivery latency, POST -> a connected client's data_received (real livekit-server, "
          f"loopback, {DELIVERIES} messages):")
    key, secret = "bench", secrets.token_hex(24)
    with local_livekit_server(key, secret) as server:
        if server is None:
            return
        port = server[1]
        env = {"AIRWAVES_LIVEKIT_URL": f"ws://127.0.0.1:{port}", "AIRWAVES_LIVEKIT_API_URL": f"http://127.0.0.1:{port}",
               "AIRWAVES_LIVEKIT_API_KEY": key, "AIRWAVES_LIVEKIT_API_SECRET": secret}
        with _stack(env) as client:
            from chalicelib.container import get_container

            media = get_container().media
            media.create_room("sp_bench")
            tokens = _tokens(client, DELIVERIES)
            latencies = asyncio.run(_deliveries(client, media, tokens))
    _report("POST /messages -> data_received", latencies, unit="ms")
    print("  (API in process on moto: auth, checks, two DynamoDB writes, LiveKit SendData over HTTP,")
    print("   the SFU's reliable data channel to the client; polled every 0.5 ms)")


def main() -> None:
    route_cost()
    delivery_latency()


if __name__ == "__main__":
    main()

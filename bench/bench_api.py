"""Foundation numbers: cold import of the Lambda handler module, and in-process latency of
``GET /v1/spaces/{id}`` and ``POST /v1/spaces`` (Chalice test client on moto's DynamoDB)."""
from __future__ import annotations

import gc
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.stats import p50_p99

ROOT = Path(__file__).resolve().parent.parent
COLD_RUNS = 15
REQUESTS = 300

_IMPORT_PROBE = """
import sys, time
began = time.perf_counter()
import app
elapsed = time.perf_counter() - began
heavy = sorted(m for m in ("stripe", "livekit", "livekit.api", "livekit.rtc", "numpy") if m in sys.modules)
print(elapsed, ",".join(heavy))
"""


def cold_import() -> None:
    times, heavy = [], set()
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "0"}
    for _ in range(COLD_RUNS):
        out = subprocess.run([sys.executable, "-c", _IMPORT_PROBE], cwd=ROOT / "functions", env=env,
                             capture_output=True, text=True, check=True).stdout.split()
        times.append(float(out[0]) * 1000)
        if len(out) > 1:
            heavy.update(out[1].split(","))
    print(f"cold import of functions/app.py: median {statistics.median(times):.1f} ms "
          f"(min {min(times):.1f}, max {max(times):.1f}, {COLD_RUNS} fresh interpreters)")
    print(f"  heavy SDKs loaded at import: {', '.join(sorted(heavy)) or 'none'}")




class FullCollections:
    """Counts the interpreter's full (generation 2) garbage collections and their pauses."""

    def __init__(self) -> None:
        self.pauses_ms: list[float] = []
        self._began = 0.0

    def __call__(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._began = time.perf_counter()
        elif info.get("generation") == 2:
            self.pauses_ms.append((time.perf_counter() - self._began) * 1000)

    def __enter__(self) -> FullCollections:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self)


def latency() -> None:
    from chalice.test import Client
    from moto import mock_aws

    from infra.local.stage import apply_stage_environment

    # the bench opens REQUESTS live Spaces from one host: lift the per-host live cap (default 1)
    apply_stage_environment("local", AIRWAVES_TABLE_NAME="airwaves-bench",
                            AIRWAVES_MAX_LIVE_SPACES_PER_HOST=str(REQUESTS + 1))
    from unittest.mock import patch

    from chalicelib.adapters.livekit import LiveKitMedia
    from tests.fixtures_livekit import FakeLiveKit

    # Going live opens a LiveKit room: answered in memory here (bench_media measures LiveKit).
    in_memory_media = patch.object(LiveKitMedia, "from_settings", classmethod(lambda cls, settings, secrets: FakeLiveKit()))
    with mock_aws(), in_memory_media:
        import boto3

        from chalicelib.adapters.dynamodb.schema import ensure_table
        from chalicelib.container import reset_container
        from infra.local.scheduler_runner import provision

        ensure_table(boto3.client("dynamodb", region_name="us-east-1"), "airwaves-bench")
        provision()  # the fan-out queue that going live writes to, as under make up
        reset_container()
        from app import app

        with Client(app) as client:
            token = json.loads(client.http.post("/v1/dev/tokens", headers={"Content-Type": "application/json"},
                                                body=json.dumps({"user_id": "host", "admin": True})).body)["token"]
            headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
            client.http.put("/v1/admin/users/host", headers=headers,
                            body=json.dumps({"handle": "host", "display_name": "Host", "follower_count": 5000}))
            posts, gets, ids = [], [], []
            with FullCollections() as collections:
                for i in range(REQUESTS):
                    began = time.perf_counter()
                    res = client.http.post("/v1/spaces", headers=headers,
                                           body=json.dumps({"title": f"Bench {i}", "topics": ["bench"]}))
                    posts.append((time.perf_counter() - began) * 1000)
                    ids.append(json.loads(res.body)["id"])
            for sid in ids:
                began = time.perf_counter()
                client.http.get(f"/v1/spaces/{sid}", headers=headers)
                gets.append((time.perf_counter() - began) * 1000)
    print(f"GET /v1/spaces/{{id}}: {p50_p99(gets)} requests")
    print(f"POST /v1/spaces:      {p50_p99(posts)} requests")
    pauses = collections.pauses_ms
    if pauses:
        print(f"  POST's tail is the interpreter's full GC over moto's in-process store: {len(pauses)} full "
              f"collections during the run, up to {max(pauses):.0f} ms each (a Lambda talking to DynamoDB has no such heap)")
    print("  (in process: Chalice test client, JWT verification, pydantic, boto3 against moto's in-memory DynamoDB)")


def main() -> None:
    cold_import()
    latency()


if __name__ == "__main__":
    main()

"""Live audio numbers.

1. Join-token issuance on one core, in process: raw ``AccessToken`` signing alone, beside our
   join path (``JoinService.join``: admission rules, role lookup, least-privilege grants,
   signing) over an in-memory repository, and the whole ``POST /v1/spaces/{id}/join`` route
   (auth, routing, two DynamoDB reads on moto). p50/p99 and joins per second (1 / mean).
2. The cold cost of the LiveKit server SDK import (paid by the first media route of a container).
3. Tone onset latency host -> listener through a real local livekit-server: the host's microphone
   switches from silence to a 440 Hz tone; the time until the listener's decoded stream has a
   loud frame, over many trials on the same connections (p50/p95).
"""
from __future__ import annotations

import asyncio
import json
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.stats import percentile
from tests.processes import LiveKitProcess

ROOT = Path(__file__).resolve().parent.parent
SIGNINGS = 5000
ROUTE_JOINS = 500
IMPORT_RUNS = 7
TONE_TRIALS = 25




def _report(label: str, seconds: list[float]) -> None:
    us = [s * 1e6 for s in seconds]
    rate = 1 / statistics.mean(seconds)
    print(f"  {label:<44} p50 {percentile(us, .50):8.1f} us  p99 {percentile(us, .99):8.1f} us  "
          f"{rate:9.0f} /s on one core  (n={len(seconds)})")


def _timed(fn, n: int) -> list[float]:
    out = []
    for i in range(n):
        began = time.perf_counter()
        fn(i)
        out.append(time.perf_counter() - began)
    return out


# -- 1. token issuance -----------------------------------------------------------------------
class _MemoryMembers:
    """The join path's one read (Space + member), from memory: isolates our code from I/O."""

    def __init__(self, space) -> None:
        self.space = space

    def space_and_member(self, space_id: str, user_id: str):
        return self.space, None


def token_issuance() -> None:
    from chalicelib.adapters.livekit import LiveKitMedia
    from chalicelib.domain.spaces import Space, SpaceState
    from chalicelib.secrets import StaticSecrets
    from chalicelib.services.joins import JoinService
    from livekit import api

    key, secret = "bench", secrets.token_hex(24)
    print("join-token issuance (single thread):")
    grants = api.VideoGrants(room_join=True, room="sp_bench", can_publish=False, can_subscribe=True,
                             can_publish_data=False)
    raw = _timed(lambda i: api.AccessToken(key, secret).with_identity(f"u{i}").with_grants(grants)
                 .with_ttl(timedelta(minutes=5)).to_jwt(), SIGNINGS)
    _report("raw AccessToken signing (livekit-api)", raw)

    now = datetime.now(UTC)
    space = Space(id="sp_bench", host_id="h", title="t", state=SpaceState.live, speaker_ids=["s1", "s2"],
                  created_at=now, updated_at=now)
    media = LiveKitMedia(StaticSecrets({"livekit_api_key": key, "livekit_api_secret": secret}), client_url="ws://127.0.0.1:7880", api_url="",
                         token_ttl=timedelta(minutes=5), empty_timeout=300, departure_timeout=60)
    joins = JoinService(_MemoryMembers(space), media, has_paid_ticket=lambda s, u: True)  # type: ignore[arg-type]
    ours = _timed(lambda i: joins.join(f"u{i}", "sp_bench"), SIGNINGS)
    _report("JoinService.join (rules + grants + signing)", ours)
    overhead = statistics.median(ours) - statistics.median(raw)
    print(f"  our join logic adds {overhead * 1e6:.1f} us (median) to the raw signing")
    _route_joins()


def _route_joins() -> None:
    from chalice.test import Client
    from moto import mock_aws

    from infra.local.stage import apply_stage_environment, make_moto_dynamodb_atomic

    apply_stage_environment("local", AIRWAVES_TABLE_NAME="airwaves-bench-media")
    make_moto_dynamodb_atomic()
    with mock_aws():
        import boto3

        from chalicelib.adapters.dynamodb.schema import ensure_table
        from chalicelib.container import get_container, reset_container
        from chalicelib.domain.clock import utcnow
        from chalicelib.domain.spaces import Space, SpaceState

        ensure_table(boto3.client("dynamodb", region_name="us-east-1"), "airwaves-bench-media")
        reset_container()
        now = utcnow()
        get_container().space_repo.create(Space(id="sp_bench", host_id="h", title="t", state=SpaceState.live,
                                                created_at=now, updated_at=now))
        from app import app

        with Client(app) as client:
            tokens = []
            for i in range(ROUTE_JOINS):
                res = client.http.post("/v1/dev/tokens", headers={"Content-Type": "application/json"},
                                       body=json.dumps({"user_id": f"u{i}"}))
                tokens.append(json.loads(res.body)["token"])

            def join(i: int) -> None:
                res = client.http.post("/v1/spaces/sp_bench/join",
                                       headers={"Authorization": f"Bearer {tokens[i]}"})
                assert res.status_code == 200, res.body

            _report("POST /v1/spaces/{id}/join (route, moto)", _timed(join, ROUTE_JOINS))
        reset_container()


# -- 2. cold import --------------------------------------------------------------------------
def sdk_import() -> None:
    probe = "import time; t = time.perf_counter(); from livekit import api; print(time.perf_counter() - t)"
    runs = [float(subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout)
            for _ in range(IMPORT_RUNS)]
    print(f"cold import of livekit.api (first media route of a container): median "
          f"{statistics.median(runs) * 1000:.0f} ms (min {min(runs) * 1000:.0f}, {IMPORT_RUNS} fresh interpreters)")


# -- 3. tone onset latency -------------------------------------------------------------------
def _start_server(workdir: Path, key: str, secret: str) -> LiveKitProcess | None:
    from tests.processes import StartFailed, start_livekit

    build = subprocess.run(["bash", str(ROOT / "livekit" / "build.sh")], capture_output=True, text=True)
    if build.returncode != 0:
        print(f"  livekit-server unavailable (build failed): {build.stderr[-300:]}")
        return None
    try:
        return start_livekit(build.stdout.strip().splitlines()[-1], workdir, api_key=key, api_secret=secret)
    except StartFailed as exc:
        print(f"  livekit-server did not come up: {str(exc)[-300:]}")
        return None


@contextmanager
def local_livekit_server(key: str, secret: str) -> Iterator[tuple[int, int] | None]:
    """A livekit-server on free loopback ports for one benchmark: ``(pid, port)``, or ``None``
    when it cannot be built or started (the bench then says so and moves on); stopped on exit."""
    with tempfile.TemporaryDirectory() as tmp:
        started = _start_server(Path(tmp), key, secret)
        if started is None:
            yield None
            return
        try:
            yield started.server.process.pid, started.port
        finally:
            started.server.stop()


async def _onset_trials(port: int, key: str, secret: str) -> list[float]:
    from chalicelib.adapters.livekit import LiveKitMedia
    from chalicelib.secrets import StaticSecrets
    from tests.integration.audio_clients import Tone, connect, first_loud_frame

    media = LiveKitMedia(StaticSecrets({"livekit_api_key": key, "livekit_api_secret": secret}), client_url=f"ws://127.0.0.1:{port}", api_url="",
                         token_ttl=timedelta(minutes=5), empty_timeout=300, departure_timeout=60)
    await asyncio.to_thread(media.create_room, "sp_bench")
    host = await connect(media.client_url, media.join_token("sp_bench", "host", "host")[0])
    listener = await connect(media.client_url, media.join_token("sp_bench", "alice", "listener")[0])
    tone = Tone(440.0, silent=True)
    await tone.publish(host)
    track = await listener.wait_for_audio_from("host")
    onsets = []
    try:
        for _ in range(TONE_TRIALS):
            tone.silence()
            await asyncio.sleep(0.6)  # let silence reach the listener
            watcher = asyncio.ensure_future(first_loud_frame(track))
            await asyncio.sleep(0.2)  # the watcher's stream is flowing (silence)
            tone.start()
            heard = await watcher
            assert tone.started_at is not None
            onsets.append(heard - tone.started_at)
    finally:
        await tone.stop()
        await listener.close()
        await host.close()
        await asyncio.to_thread(media.delete_room, "sp_bench")
    return onsets


def tone_onset() -> None:
    print(f"tone onset latency host -> listener through a local livekit-server ({TONE_TRIALS} trials):")
    key, secret = "bench", secrets.token_hex(24)
    with local_livekit_server(key, secret) as server:
        if server is None:
            return
        onsets = asyncio.run(_onset_trials(server[1], key, secret))
    ms = [s * 1000 for s in onsets]
    print(f"  p50 {percentile(ms, .50):.1f} ms  p95 {percentile(ms, .95):.1f} ms  min {min(ms):.1f}  max {max(ms):.1f} ms")
    print("  (from the first tone sample entering the host's microphone to the first loud 10 ms frame decoded")
    print("   by the listener: capture queue, Opus encode, SFU forwarding, jitter buffer, decode)")


def main() -> None:
    token_issuance()
    sdk_import()
    tone_onset()


if __name__ == "__main__":
    main()

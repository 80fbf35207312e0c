"""The real media worker against the real API, end to end, through the public HTTP API only.

Its own livekit-server (so the session worker of the other media tests, which talks to the
stand-in API, is never dispatched here), moto's server and the Chalice app as child processes in
the API's venv (``.venv``: ``tests/faults/api_process.py``, the app ``make up`` serves), and the
worker (``python -m airwaves_media``) pointed at that API. A host made able to host with dev
tokens creates a recorded Space, which goes live and makes the API dispatch the worker; the
host's SDK client publishes 440 Hz; a clip is asked through ``POST /v1/spaces/{id}/clips`` and
fetched from the URL the API answers; the host ends the Space; ``GET /v1/spaces/{id}/replay``
becomes available, its playlist and every segment URL in it are fetched, and the Ogg download
holds the tone (FFT)."""
from __future__ import annotations

import asyncio
import os
import secrets
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from airwaves_media.codec import RATE, decode
from livekit import api
from tests.integration import audio_clients as ac
from tests.media.conftest import LiveKit
from tests.media_worker import WORKER_DIR, Worker
from tests.processes import StartFailed, free_port, http_ok, start_livekit, start_server
from tests.real_servers import built_binary, unavailable

pytestmark = pytest.mark.livekit

ROOT = Path(__file__).resolve().parents[2]
API_PYTHON = ROOT / ".venv" / "bin" / "python"
CLIP_SECONDS = 6  # the API's AIRWAVES_CLIP_SECONDS here: short enough for the worker to have heard it all
TONE_HZ = 440.0


class Stack:
    def __init__(self, lk: LiveKit, base: str, aws: str, bucket: str, secret: str, worker: Worker) -> None:
        self.lk, self.base, self.aws, self.bucket, self.secret, self.worker = lk, base, aws, bucket, secret, worker
        self.http = httpx.Client(base_url=base, timeout=30)

    def dev_token(self, user: str, admin: bool = False) -> str:
        res = self.http.post("/v1/dev/tokens", json={"user_id": user, "admin": admin})
        assert res.status_code == 201, res.text
        return str(res.json()["token"])

    def host(self, user: str) -> str:
        """A dev token of a user whose profile may host (the admin route sets the follower count)."""
        res = self.http.put(f"/v1/admin/users/{user}", json={"handle": user.replace("-", "_"), "display_name": user,
                                                              "follower_count": 1000},
                            headers={"Authorization": f"Bearer {self.dev_token('e2e-admin', admin=True)}"})
        assert res.status_code in (200, 201), res.text
        return self.dev_token(user)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("e2e")) as s:
        yield s


@contextmanager
def running_stack(work: Path, api_settings: dict[str, str] | None = None) -> Iterator[Stack]:
    """livekit-server, moto, the API and the worker as child processes, logs in ``work`` (also
    what ``bench/bench_hls.py`` measures on); ``api_settings``: more of the API's environment."""
    if not API_PYTHON.exists():
        unavailable("the API's venv", f"{API_PYTHON} is missing (make install)")
    binary = built_binary("livekit-server", ["bash", str(ROOT / "livekit" / "build.sh")])
    try:
        lk = start_livekit(binary, work, api_key="airwaves-e2e", api_secret=secrets.token_hex(24), name="livekit-e2e")
    except StartFailed as exc:
        unavailable("livekit-server", str(exc))
    started = [lk.server]
    aws_port, api_port = free_port(), free_port()
    aws = f"http://127.0.0.1:{aws_port}"
    base = f"http://127.0.0.1:{api_port}"
    bucket, secret = f"airwaves-e2e-{secrets.token_hex(3)}", secrets.token_hex(16)
    aws_env = {"AWS_ENDPOINT_URL": aws, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
               "AWS_DEFAULT_REGION": "us-east-1"}
    worker: Worker | None = None
    try:
        started.append(start_server([str(API_PYTHON), "-m", "moto.server", "-H", "127.0.0.1", "-p", str(aws_port)],
                                    ready=lambda _: http_ok(f"{aws}/moto-api/"), log_path=work / "moto.log",
                                    env=aws_env))
        # the local stage's settings, these on top (tests/faults/api_process.py keeps AIRWAVES_* overrides)
        api_env = {**aws_env, "PYTHONPATH": f"{ROOT / 'functions'}{os.pathsep}{ROOT}", "AIRWAVES_TABLE_NAME": "airwaves-e2e",
                   "AIRWAVES_LIVEKIT_URL": lk.url, "AIRWAVES_LIVEKIT_API_URL": lk.api_url,
                   "AIRWAVES_LIVEKIT_API_KEY": lk.api_key, "AIRWAVES_LIVEKIT_API_SECRET": lk.api_secret,
                   "AIRWAVES_MEDIA_BUCKET": bucket, "AIRWAVES_MEDIA_WORKER_SECRET": secret,
                   "AIRWAVES_CLIP_SECONDS": str(CLIP_SECONDS),
                   # a tiny WebRTC cap for test_hls_overflow.py (the host never counts against it),
                   # and HLS links that name this API
                   "AIRWAVES_WEBRTC_LISTENER_CAP": "1", "AIRWAVES_PUBLIC_BASE_URL": base, **(api_settings or {})}
        started.append(start_server([str(API_PYTHON), "-m", "tests.faults.api_process", str(api_port), "--provision"],
                                    ready=lambda _: http_ok(f"{base}/v1/openapi.json"), log_path=work / "api.log",
                                    env=api_env, timeout=60))
        worker = Worker({**os.environ, **aws_env,
                         "PYTHONPATH": f"{WORKER_DIR}{os.pathsep}{ROOT}",
                         "LIVEKIT_URL": lk.url, "LIVEKIT_API_KEY": lk.api_key, "LIVEKIT_API_SECRET": lk.api_secret,
                         "AIRWAVES_API_URL": base, "AIRWAVES_MEDIA_WORKER_SECRET": secret,
                         "AIRWAVES_MEDIA_BUCKET": bucket, "AIRWAVES_MEDIA_EXECUTOR": "process",
                         "AIRWAVES_MEDIA_IDLE_PROCESSES": "1", "AIRWAVES_STT_ENGINE": "scripted",
                         "AIRWAVES_STT_SCRIPT": "{}"}, work)
        worker.start()
        s = Stack(LiveKit(lk.url, lk.api_url, lk.api_key, lk.api_secret), base, aws, bucket, secret, worker)
        s.api_log = work / "api.log"  # type: ignore[attr-defined]
        yield s
        s.http.close()
    except StartFailed as exc:
        raise AssertionError(f"the local API did not start: {exc}") from exc
    finally:
        if worker is not None:
            worker.stop()
        for server in reversed(started):
            server.stop()


async def eventually_get(fetch, done, timeout: float, what: str, every: float = 0.1):
    """``fetch()`` (a blocking HTTP call, run in a thread so the host's tone keeps playing on the
    loop) until ``done`` of its answer."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = await asyncio.to_thread(fetch)
        if done(last):
            return last
        await asyncio.sleep(every)
    raise AssertionError(f"{what} within {timeout:.0f}s; last: {getattr(last, 'status_code', '')} "
                         f"{getattr(last, 'text', last)}")


def test_recorded_space_clip_and_replay_through_the_real_api(aio, stack):
    """One recorded Space through the public API; the host plays 440 Hz from joining to the end."""
    http = stack.http
    host_token = stack.host("e2e-host")
    auth = {"Authorization": f"Bearer {host_token}"}
    res = http.post("/v1/spaces", json={"title": "End to end", "recording": True}, headers=auth)
    assert res.status_code == 201, res.text
    space = res.json()
    space_id = space["id"]
    assert space["state"] == "live" and space["recording"] is True, space
    created = time.time()

    async def worker_in_room() -> float:
        async with api.LiveKitAPI(stack.lk.api_url, stack.lk.api_key, stack.lk.api_secret) as lk:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                found = await lk.room.list_participants(api.ListParticipantsRequest(room=space_id))
                if any(p.identity == "airwaves-media" for p in found.participants):
                    return time.time()
                await asyncio.sleep(0.2)
        raise AssertionError(f"the worker never joined the Space's room: {stack.worker.log()[-3000:]}")

    async def live_part() -> tuple[float, float, dict, bytes, float]:
        client = await ac.connect(space["join"]["livekit_url"], space["join"]["token"])
        tone = ac.Tone(TONE_HZ)
        try:
            await tone.publish(client)
            joined = await worker_in_room()
            await asyncio.sleep(CLIP_SECONDS + 2.0)  # the worker has heard the whole clip window of tone
            asked = time.time()
            res = await asyncio.to_thread(http.post, f"/v1/spaces/{space_id}/clips", json={},
                                          headers={**auth, "Idempotency-Key": "e2e-clip-1"})
            assert res.status_code == 201, res.text
            clip = res.json()
            assert clip["state"] == "pending", clip
            ready = await eventually_get(lambda: http.get(f"/v1/clips/{clip['id']}", headers=auth),
                                         lambda r: r.status_code == 200 and r.json()["state"] != "pending", 20,
                                         "the clip to be available")
            clip_ready = time.time() - asked
            clip = ready.json()
            assert clip["state"] == "available" and clip["url"], clip
            clip_file = (await asyncio.to_thread(httpx.get, clip["url"], timeout=30)).raise_for_status().content
            await asyncio.sleep(2.0)
            res = await asyncio.to_thread(http.post, f"/v1/spaces/{space_id}/end", json={},
                                          headers={**auth, "Idempotency-Key": "e2e-end"})
            assert res.status_code == 200, res.text
            ended = time.time()
            assert res.json()["state"] == "ended"
            return joined, clip_ready, clip, clip_file, ended
        finally:
            await tone.stop()
            await client.close()

    joined, clip_ready, clip, clip_file, ended = aio.run(live_part())
    assert clip["space_id"] == space_id and abs(clip["duration_seconds"] - CLIP_SECONDS) < 0.5, clip
    pcm = decode(clip_file)
    assert abs(pcm.size / RATE - CLIP_SECONDS) < 0.5, pcm.size / RATE
    ac.assert_tone(pcm, TONE_HZ, f"the clip; worker log: {stack.worker.log()[-3000:]}")

    replay = aio.run(eventually_get(lambda: http.get(f"/v1/spaces/{space_id}/replay", headers=auth),
                                    lambda r: r.status_code == 200 and r.json()["state"] == "available", 45,
                                    "the replay to be available"))
    replay_ready = time.time() - ended
    body = replay.json()
    space_seconds = ended - created
    assert abs(body["duration_seconds"] - space_seconds) < 2.5, (body["duration_seconds"], space_seconds)

    playlist = httpx.get(body["playback_url"], timeout=30).raise_for_status().text
    assert playlist.startswith("#EXTM3U") and "#EXT-X-ENDLIST" in playlist, playlist[:500]
    uris = [line for line in playlist.splitlines() if line and not line.startswith("#")]
    assert len(uris) >= 4, playlist
    heard = 0
    for i, uri in enumerate(uris):
        assert uri.startswith("http"), uri  # the API answers fetchable segment URLs, not relative keys
        segment = decode(httpx.get(uri, timeout=30).raise_for_status().content, "mpegts")
        assert segment.size > (RATE if i < len(uris) - 1 else 0), (i, segment.size)  # 2 s each, the last shorter
        heard += ac.holds_tone(segment, TONE_HZ)
    assert heard >= 3, (heard, len(uris))

    ogg = decode(httpx.get(body["download_url"], timeout=30).raise_for_status().content)
    assert abs(ogg.size / RATE - body["duration_seconds"]) < 1.0
    # from 2 s after the worker is in the room (the Ogg was seen silent until 1.4 s after it: the
    # worker still subscribing to the host's track) to 2.5 s before the end, the tone in every window
    tone_from, tone_to = joined - created + 2.0, ended - created - 2.5
    assert tone_to - tone_from > 4, (tone_from, tone_to)
    part = ogg[int(tone_from * RATE):int(tone_to * RATE)]
    ac.assert_tone(part, TONE_HZ, "the Ogg download")

    # the host trims the start to 3 s of the Space (the Ogg's timeline): the playable playlist
    # starts at that moment of the worker's stamped segments (it joined ~1 s after the start)
    # (the public Space's started_at is to the second; the worker's timeline is the internal one's)
    started_at = datetime.fromisoformat(http.get(f"/internal/media/spaces/{space_id}", headers={
        "Authorization": f"Bearer {stack.secret}"}).json()["started_at"].replace("Z", "+00:00"))
    res = http.patch(f"/v1/spaces/{space_id}/replay", json={"start_offset_seconds": 3.0}, headers=auth)
    assert res.status_code == 200, res.text
    trimmed = httpx.get(res.json()["playback_url"], timeout=30).raise_for_status().text.splitlines()
    stamp = next(x for x in trimmed if x.startswith("#EXT-X-PROGRAM-DATE-TIME:"))
    first = (datetime.fromisoformat(stamp.split(":", 1)[1].replace("Z", "+00:00")) - started_at).total_seconds()
    skip = next((float(x.split("=")[1].split(",")[0]) for x in trimmed if x.startswith("#EXT-X-START:")), 0.0)
    assert abs(first + skip - 3.0) < 0.05, f"{first} {skip} {started_at} {trimmed[:12]}"
    print(f"\nworker in room {joined - created:.2f}s after create; clip asked -> available {clip_ready:.2f}s; "
          f"end -> replay available {replay_ready:.2f}s (space {space_seconds:.1f}s, {len(uris)} segments)",
          file=sys.stderr)

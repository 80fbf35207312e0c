"""The HLS delay of overflow listeners (issue 16): tone onset at the host -> audible in the HLS
playlist's segments, on the real stack (livekit-server, moto, the API, the media worker: the
stack of ``tests/media/test_worker_with_api.py``) with a WebRTC cap of one listener.

A host publishes silence; one listener takes the only seat, the next one gets HLS, which turns the
worker's live HLS on. Then ``ONSETS`` times: the host plays 440 Hz for 6 s after 6 s of silence,
and the bench polls the HLS listener's playlist (every 0.2 s, through its signed link, as a player
reloads it) until a new segment holds the tone. That delay is the segment length (2 s) plus the
upload and the API's rewrite; a player adds its own buffer on top (usually 3 target durations,
6 s). Also: the live playlist route's own latency (p50/p99). Runs in the worker's venv."""
from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from bench.stats import p50_p99
from bench.worker_venv import run_in_worker_venv

ONSETS = 5
TONE_HZ = 440.0


def _uris(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def run() -> None:
    import httpx

    from airwaves_media.codec import decode
    from tests.integration import audio_clients as ac
    from tests.media.test_worker_with_api import running_stack

    def holds_tone(body: bytes) -> bool:
        return ac.holds_tone(decode(body, "mpegts"), TONE_HZ)

    with tempfile.TemporaryDirectory(prefix="bench-hls-") as tmp, running_stack(Path(tmp)) as stack:
        http = stack.http
        auth = {"Authorization": f"Bearer {stack.host('bench-hls-host')}"}
        space = http.post("/v1/spaces", json={"title": "HLS bench"}, headers=auth).raise_for_status().json()
        sid = space["id"]

        def join(user: str) -> dict:
            return http.post(f"/v1/spaces/{sid}/join", headers={
                "Authorization": f"Bearer {stack.dev_token(user)}"}).raise_for_status().json()

        join("bench-seated")
        hls_url = join("bench-overflow")["hls_url"]
        route: list[float] = []

        def fetch() -> str:
            began = time.perf_counter()
            res = httpx.get(hls_url, timeout=10).raise_for_status()
            route.append((time.perf_counter() - began) * 1000)
            return res.text

        async def measure() -> list[float]:
            client = await ac.connect(space["join"]["livekit_url"], space["join"]["token"])
            tone = ac.Tone(TONE_HZ, silent=True)
            delays: list[float] = []
            try:
                await tone.publish(client)
                deadline = time.monotonic() + 60
                while len(_uris(await asyncio.to_thread(fetch))) < 2:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"no live HLS segments: {stack.worker.log()[-2000:]}")
                    await asyncio.sleep(0.2)
                seen: set[str] = set()
                for _ in range(ONSETS):
                    await asyncio.sleep(6.0)  # silence, then the onset
                    seen.update(u.split("?", 1)[0] for u in _uris(await asyncio.to_thread(fetch)))
                    tone.start()
                    onset = time.perf_counter()
                    found = None
                    while found is None and time.perf_counter() - onset < 20:
                        for uri in _uris(await asyncio.to_thread(fetch)):
                            if uri.split("?", 1)[0] in seen:
                                continue
                            seen.add(uri.split("?", 1)[0])
                            body = (await asyncio.to_thread(httpx.get, uri, timeout=10)).content
                            if holds_tone(body):
                                found = time.perf_counter() - onset
                                break
                        await asyncio.sleep(0.2)
                    if found is not None:
                        delays.append(found)
                    await asyncio.sleep(max(0.0, 6.0 - (time.perf_counter() - onset)))
                    tone.silence()
            finally:
                await tone.stop()
                await client.close()
            return delays

        delays = asyncio.run(measure())
        print(f"   HLS delay, tone onset at the host -> a new live segment holds it ({len(delays)}/{ONSETS} onsets): "
              f"{p50_p99([d * 1000 for d in delays])}; min {min(delays):.2f}s max {max(delays):.2f}s"
              if delays else "   HLS delay: no onset was heard")
        print(f"   GET live.m3u8 (verify link, count listener, read playlist, presign 6): {p50_p99(route)} fetches")


def main() -> None:
    run_in_worker_venv("bench.bench_hls", run)


if __name__ == "__main__":
    main()

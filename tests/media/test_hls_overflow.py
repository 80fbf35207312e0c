"""HLS overflow end to end (issue 16): the real API with a WebRTC cap of one listener, the real
worker and livekit-server (the stack of ``test_worker_with_api.py``). A Space with recording off
goes live with its host silent; one listener takes the only WebRTC seat, the next one's join
answers HLS, which turns the worker's live HLS on. The host then plays 440 Hz: the HLS listener's
playlist (fetched as a player would, through the signed link) is a live sliding window whose
segments decode to the tone. The HLS delay (tone onset at the host -> first playlist fetch whose
new segment holds the tone) is printed, not asserted (``bench/bench_hls.py`` reports it). Then the
HLS listener is approved to speak and joins again over WebRTC, and the ended Space's playlist
ends."""
from __future__ import annotations

import asyncio
import sys
import time

import httpx
import pytest

from airwaves_media.codec import decode
from tests.integration import audio_clients as ac
from tests.media.test_worker_with_api import eventually_get, stack  # noqa: F401 - the module's stack fixture

pytestmark = pytest.mark.livekit

TONE_HZ = 440.0


def uris(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def holds_tone(segment: bytes) -> bool:
    return ac.holds_tone(decode(segment, "mpegts"), TONE_HZ)


def test_past_the_cap_a_listener_hears_the_host_over_hls_and_promotion_moves_it_to_webrtc(aio, stack):  # noqa: F811
    http = stack.http
    auth = {"Authorization": f"Bearer {stack.host('hls-host')}"}
    res = http.post("/v1/spaces", json={"title": "Overflow", "recording": False}, headers=auth)
    assert res.status_code == 201, res.text
    space = res.json()
    space_id = space["id"]

    def join(user: str) -> dict:
        res = http.post(f"/v1/spaces/{space_id}/join", headers={"Authorization": f"Bearer {stack.dev_token(user)}"})
        assert res.status_code == 200, res.text
        return res.json()

    assert join("hls-seated")["transport"] == "webrtc"
    overflow = join("hls-overflow")
    assert overflow["transport"] == "hls" and overflow["role"] == "listener", overflow
    hls_url = overflow["hls_url"]
    assert hls_url.startswith(stack.base + f"/v1/spaces/{space_id}/live.m3u8?token="), hls_url

    async def live_part() -> tuple[float, list[str]]:
        client = await ac.connect(space["join"]["livekit_url"], space["join"]["token"])
        tone = ac.Tone(TONE_HZ, silent=True)
        try:
            await tone.publish(client)
            # the worker cuts live HLS (silence for now) once it has read hls_live
            first = await eventually_get(lambda: httpx.get(hls_url, timeout=10),
                                         lambda r: r.status_code == 200 and len(uris(r.text)) >= 2, 45,
                                         "live HLS segments")
            seen = set(uris(first.text))
            tone.start()
            onset = time.perf_counter()
            delay = None
            deadline = time.monotonic() + 30
            while delay is None and time.monotonic() < deadline:
                res = await asyncio.to_thread(httpx.get, hls_url, timeout=10)
                assert res.status_code == 200, res.text
                for uri in uris(res.text):
                    key = uri.split("?", 1)[0]
                    if key in seen:
                        continue
                    seen.add(key)
                    body = (await asyncio.to_thread(httpx.get, uri, timeout=10)).raise_for_status().content
                    if holds_tone(body):
                        delay = time.perf_counter() - onset
                        break
                await asyncio.sleep(0.2)
            assert delay is not None, f"no HLS segment held the tone: {stack.worker.log()[-3000:]}"
            # three more segments of tone, and the window slides (older segments leave it)
            await asyncio.sleep(6.0)
            slid = await eventually_get(lambda: httpx.get(hls_url, timeout=10),
                                        lambda r: "#EXT-X-MEDIA-SEQUENCE:0" not in r.text.splitlines(), 30,
                                        "the live window to slide")
            return delay, [slid.text]
        finally:
            await tone.stop()
            await client.close()

    delay, (playlist,) = aio.run(live_part())
    lines = playlist.splitlines()
    assert "#EXT-X-ENDLIST" not in lines and not any(x.startswith("#EXT-X-PLAYLIST-TYPE") for x in lines)
    sequence = int(next(x for x in lines if x.startswith("#EXT-X-MEDIA-SEQUENCE:")).split(":")[1])
    segments = uris(playlist)
    assert 3 <= len(segments) <= 6 and sequence > 0, playlist
    toned = sum(holds_tone(httpx.get(u, timeout=10).raise_for_status().content) for u in segments[-3:])
    assert toned >= 2, (toned, playlist)

    counted = http.get(f"/v1/spaces/{space_id}", headers=auth).json()
    assert counted["hls_listener_count"] == 1, counted

    # promoted to the stage, the HLS listener joins again over WebRTC
    listener = {"Authorization": f"Bearer {stack.dev_token('hls-overflow')}"}
    assert http.post(f"/v1/spaces/{space_id}/speak-requests", headers=listener).status_code == 201
    res = http.post(f"/v1/spaces/{space_id}/speak-requests/hls-overflow/approve", headers=auth)
    assert res.status_code == 200, res.text
    again = join("hls-overflow")
    assert again["transport"] == "webrtc" and again["role"] == "speaker" and again["token"], again

    res = http.post(f"/v1/spaces/{space_id}/end", json={}, headers={**auth, "Idempotency-Key": "hls-end"})
    assert res.status_code == 200, res.text
    ended = aio.run(eventually_get(lambda: httpx.get(hls_url, timeout=10),
                                   lambda r: r.status_code == 200 and "#EXT-X-ENDLIST" in r.text, 30,
                                   "the live playlist to end"))
    assert uris(ended.text)
    print(f"\nHLS delay (tone onset at the host -> a new segment of the live playlist holds it): {delay:.2f}s",
          file=sys.stderr)

"""The worker against the real livekit-server, moto's S3 and a stand-in API: real SDK clients
publish sine tones; what the worker stores is decoded and checked by FFT."""
from __future__ import annotations

import pytest

from tests.integration import audio_clients as ac
from tests.media.helpers import Space, band_energy, job_lines, sleep_until, window

pytestmark = pytest.mark.livekit


def test_stage_is_recorded_listener_is_not_and_room_deletion_finalizes(aio, livekit_server, s3, fake_api, worker):
    """Host 440 Hz from ~2 s to ~6 s, then a listener promoted to speaker plays 660 Hz to ~10 s,
    then a silent stage to ~13 s; another listener plays 880 Hz all along (its token may publish,
    its role may not be heard). The room is deleted (the Space ended): the Ogg spans the Space,
    440 then 660 at their times, never 880, silence at the end; the HLS parses and decodes the same."""
    space = Space(livekit_server, fake_api, s3)

    async def scenario() -> tuple[dict, dict[str, float], float]:
        await space.open(stage=["host"])
        host = await space.join("host", "host", hz=440, silent=True)
        guest = await space.join("guest", "listener", hz=660, silent=True)
        noisy = await space.join("noisy", "listener", hz=880)
        assert host and guest and noisy
        await space.dispatch()
        await space.wait_for_worker()
        marks: dict[str, float] = {}
        await sleep_until(space, 2.0)
        host.start()
        marks["440"] = space.offset()
        await sleep_until(space, 6.0)
        host.silence()
        await space.set_role("guest", "speaker")
        fake_api.update(space.space_id, stage_user_ids=["host", "guest"])
        guest.start()
        marks["660"] = space.offset()
        await sleep_until(space, 10.0)
        guest.silence()
        marks["quiet"] = space.offset()
        await sleep_until(space, 13.0)
        ended = await space.delete_room()
        report = await space.wait_for_replay()
        await space.close()
        return report, marks, ended

    try:
        report, marks, ended = aio.run(scenario())
    finally:
        aio.run(space.close())
    space_seconds = ended - space.started_at
    ogg = space.ogg()
    assert abs(ogg.size / 48_000 - space_seconds) < 1.0, (ogg.size / 48_000, space_seconds)
    assert abs(report["duration_seconds"] - space_seconds) < 1.0
    assert report["ogg_key"] == f"spaces/{space.space_id}/recording.ogg"
    assert report["hls_key"] == f"spaces/{space.space_id}/hls/playlist.m3u8"
    print(f"\nend -> available: {report['at'] - ended:.2f}s; space {space_seconds:.2f}s; marks {marks}")

    playlist = space.playlist()
    assert playlist.ended and len(playlist.segments) >= 5
    assert not any(s.discontinuity for s in playlist.segments)
    for pcm, name in ((ogg, "ogg"), (space.hls_timeline(), "hls")):
        tone1 = window(pcm, marks["440"] + 0.7, marks["660"] - 0.3)
        tone2 = window(pcm, marks["660"] + 0.7, marks["quiet"] - 0.3)
        ac.assert_tone(tone1, 440, name)
        ac.assert_tone(tone2, 660, name)
        for part in (tone1, tone2):
            assert band_energy(part, 880) < 0.01, name  # the listener is never in the mix
        ac.assert_quiet(window(pcm, marks["quiet"] + 0.7, space_seconds - 0.7), f"{name}: a silent stage")
        ac.assert_quiet(window(pcm, 0.0, marks["440"] - 0.5), f"{name}: before anyone spoke")
    assert fake_api.unauthorized == 0
    (job_id,) = {line["job_id"] for line in job_lines(worker.log(), space.space_id)}
    assert job_id in fake_api.request_ids, "the worker's API calls carry its job id"


def test_clip_holds_the_last_30_seconds(aio, livekit_server, s3, fake_api, worker):
    """Recording off, clips on: 440 Hz for the first ~5 s, then 660 Hz; a clip asked at ~37 s holds
    the last 30 s (all 660, no 440) and is reported within a few seconds."""
    space = Space(livekit_server, fake_api, s3)

    async def scenario() -> tuple[float, float]:
        await space.open(stage=["host"], recording=False)
        host = await space.join("host", "host", hz=440)
        assert host
        await space.dispatch()
        await space.wait_for_worker()
        await sleep_until(space, 5.0)
        host.hz = 660
        await sleep_until(space, 37.0)
        asked = fake_api.request_clip(space.space_id, "clip-1", 30)
        await ac.eventually(lambda: "clip-1" in fake_api.clips, 15, "the clip")
        return asked, fake_api.clips["clip-1"]["at"]

    try:
        asked, reported = aio.run(scenario())
    finally:
        aio.run(space.close())
    clip = fake_api.clips["clip-1"]
    latency = reported - asked
    print(f"\nclip latency (asked -> available): {latency:.2f}s")
    assert clip["state"] == "available" and clip["key"] == f"spaces/{space.space_id}/clips/clip-1.ogg"
    assert abs(clip["duration_seconds"] - 30) < 0.5
    from airwaves_media.codec import decode

    pcm = decode(s3.get(clip["key"]))
    assert abs(pcm.size / 48_000 - 30) < 0.5
    ac.assert_tone(pcm[: 48_000 * 5], 660)
    ac.assert_tone(pcm[-48_000 * 3:], 660)
    assert band_energy(pcm, 440) < 0.01
    assert latency < 10
    assert fake_api.last_recording(space.space_id) is None  # recording was off: no replay
    assert s3.keys(f"spaces/{space.space_id}/hls/") == []

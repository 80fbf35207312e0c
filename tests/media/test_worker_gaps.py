"""One replay across gaps: recording turned off and on again, and the worker killed mid-Space
and started again (it is dispatched again, reads its playlist back from S3 and goes on)."""
from __future__ import annotations

import pytest

from tests.integration import audio_clients as ac
from tests.media.helpers import Space, sleep_until, window

pytestmark = pytest.mark.livekit


def test_off_on_and_a_worker_crash_make_one_replay_with_marked_gaps(aio, livekit_server, s3, fake_api, worker):
    """440 Hz all along. Recording off at ~5 s, on at ~9 s; the worker is SIGKILLed at ~14 s and
    started again; the room is deleted at ~24 s. One playlist, a discontinuity at each gap, the
    Ogg as long as the Space with the tone where it was recorded and silence in the gaps."""
    space = Space(livekit_server, fake_api, s3)
    marks: dict[str, float] = {}

    async def scenario() -> tuple[dict, float]:
        await space.open(stage=["host"])
        await space.join("host", "host", hz=440)
        await space.dispatch()
        await space.wait_for_worker()
        await sleep_until(space, 5.0)
        fake_api.update(space.space_id, recording=False)
        marks["off"] = space.offset()
        await sleep_until(space, 9.0)
        fake_api.update(space.space_id, recording=True)
        marks["on"] = space.offset()
        await sleep_until(space, 14.0)
        worker.kill()
        marks["killed"] = space.offset()
        worker.start()
        await space.wait_for_worker(timeout=60)
        marks["back"] = space.offset()
        await sleep_until(space, marks["back"] + 5.0)
        ended = await space.delete_room()
        return await space.wait_for_replay(), ended

    try:
        report, ended = aio.run(scenario())
    finally:
        aio.run(space.close())
    print(f"\nmarks {marks}; ended at {ended - space.started_at:.2f}s")
    space_seconds = ended - space.started_at
    playlist = space.playlist()
    assert playlist.ended
    gaps = [s for s in playlist.segments if s.discontinuity]
    assert len(gaps) == 2, space.s3.get(f"spaces/{space.space_id}/hls/playlist.m3u8").decode()
    assert marks["on"] - 0.5 < gaps[0].offset < marks["on"] + 1.5
    assert marks["back"] - 3 < gaps[1].offset < marks["back"] + 1.5
    seqs = [s.seq for s in playlist.segments]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # no segment overwritten by the restart
    before_off = playlist.segments[playlist.segments.index(gaps[0]) - 1].end
    assert marks["off"] - 0.5 < before_off < marks["off"] + 2.5  # noticed by the next poll
    before_crash = playlist.segments[playlist.segments.index(gaps[1]) - 1].end
    lost = marks["killed"] - before_crash
    print(f"lost to the crash before the kill: {lost:.2f}s; worker away {gaps[1].offset - marks['killed']:.2f}s")
    assert 0 <= lost < 4.0  # at most the segment being cut and one poll
    ogg = space.ogg()
    assert abs(ogg.size / 48_000 - space_seconds) < 1.0
    assert abs(report["duration_seconds"] - space_seconds) < 1.0
    for pcm in (ogg, space.hls_timeline()):
        for a, b in ((2.5, marks["off"] - 0.5), (gaps[0].offset + 0.5, before_crash - 0.3),
                     (gaps[1].offset + 0.5, space_seconds - 0.7)):
            ac.assert_tone(window(pcm, a, b), 440, f"{a:.1f}-{b:.1f} s")
        ac.assert_quiet(window(pcm, before_off + 0.2, gaps[0].offset - 0.2), "while recording was off")
        ac.assert_quiet(window(pcm, before_crash + 0.2, gaps[1].offset - 0.2), "while the worker was down")

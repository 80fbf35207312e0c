"""Captions plumbing (issue 14, first part) with the scripted engine: per-speaker VAD, text streams
on ``lk.transcription`` sent as the speaker with LiveKit's transcription attributes, interim then
final, final segments to the API; captions off -> nothing."""
from __future__ import annotations

import asyncio

import pytest

from tests.integration import audio_clients as ac
from tests.media.helpers import Space, job_lines, listen

pytestmark = pytest.mark.livekit


def test_each_speaker_is_captioned_as_themselves_and_off_means_none(aio, livekit_server, s3, fake_api, worker):
    space = Space(livekit_server, fake_api, s3)

    async def scenario() -> tuple[list[dict], dict[str, str]]:
        await space.open(stage=["cap-host", "cap-guest"], recording=False, captions=True)
        host = await space.join("cap-host", "host", hz=440, silent=True)
        guest = await space.join("cap-guest", "speaker", hz=660, silent=True)
        await space.join("cap-listener", "listener")
        listener = space.clients[-1]
        got = listen(listener)
        await space.dispatch()
        await space.wait_for_worker()
        await asyncio.sleep(1.0)
        assert host and guest
        host.start()
        await asyncio.sleep(1.5)
        host.silence()
        await ac.eventually(lambda: any(g.get("lk.transcription_final") == "true" for g in got), 10, "a final caption")
        guest.start()
        await asyncio.sleep(1.5)
        guest.silence()
        await ac.eventually(lambda: sum(g.get("lk.transcription_final") == "true" for g in got) >= 2, 10,
                            "the guest's caption")
        fake_api.update(space.space_id, captions=False)
        await asyncio.sleep(2.0)
        before = len(got)
        host.start()
        await asyncio.sleep(1.5)
        host.silence()
        await asyncio.sleep(2.0)
        assert len(got) == before, got[before:]  # captions off: nothing
        await ac.eventually(lambda: len(space.segments()) >= 2, 5, "segments at the API")
        tracks = {c.identity: next(iter(c.room.local_participant.track_publications)) for c in space.clients[:2]}
        return got, tracks

    try:
        got, tracks = aio.run(scenario())
    finally:
        aio.run(space.close())
    finals = [g for g in got if g["lk.transcription_final"] == "true"]
    assert [(f["sender"], f["text"]) for f in finals] == [("cap-host", "hello from the host"),
                                                         ("cap-guest", "the guest speaks now")]
    assert finals[0]["lk.transcribed_track_id"] == tracks["cap-host"]
    assert finals[1]["lk.transcribed_track_id"] == tracks["cap-guest"]
    interim = [g for g in got if g["lk.transcription_final"] == "false" and g["sender"] == "cap-host"]
    assert interim and all("hello from the host".startswith(g["text"]) for g in interim)
    assert {g["lk.segment_id"] for g in interim} == {finals[0]["lk.segment_id"]}
    segments = space.segments()
    assert [(s["speaker_id"], s["text"]) for s in segments] == [("cap-host", "hello from the host"),
                                                               ("cap-guest", "the guest speaks now")]
    assert all(0 <= s["start_seconds"] < s["end_seconds"] for s in segments)
    # each published caption is one CaptionLatency data point (EMF) in the worker's log, in its job's lines
    latencies = [line for line in job_lines(worker.log(), space.space_id) if line["message"] == "CaptionLatency"]
    assert len(latencies) == len(got) and sum(line["final"] for line in latencies) == len(finals)
    assert all(line["CaptionLatency"] >= 0 and line["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Airwaves"
               for line in latencies)
    print(f"\ncaption latency (s): {sorted(line['CaptionLatency'] for line in latencies)}")

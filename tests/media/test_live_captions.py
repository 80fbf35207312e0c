"""Live captions of real speech (issue 14): espeak-ng sentences published by real SDK clients on
stage, through the real livekit-server, captioned by the worker's embedded engine (Whisper
tiny.en), read by a listener's client from ``lk.transcription``.

Bounds, from runs on the 2-core box with livekit-server, the worker and the clients sharing it
(``bench/bench_captions.py`` prints the same figures over all five sentences): latency from the end
of a sentence to its last final at the listener 0.46-1.07 s one speaker at a time (bound 8 s); WER
per sentence 0.00-0.22 against the sentence said (bound 0.4) and about 1.0 against the other
speaker's (floor 0.6: captions not mixed up).
"""
from __future__ import annotations

import pytest

from tests.integration import audio_clients as ac
from tests.media.helpers import Space, finals, listen, say_and_wait
from tests.media.speech import SENTENCES, espeak, speak, wer
from tests.real_servers import unavailable

pytestmark = pytest.mark.livekit

LATENCY_BOUND = 8.0
WER_BOUND = 0.4
WRONG_WER_FLOOR = 0.6


@pytest.fixture(scope="module", autouse=True)
def needs_espeak() -> None:
    if espeak() is None:
        unavailable("espeak-ng", "apt-get install espeak-ng")


def test_two_speakers_are_captioned_live_each_as_themselves(aio, livekit_server, s3, fake_api, embedded_worker):
    lines = {"live-host": SENTENCES[0], "live-guest": SENTENCES[3]}
    space = Space(livekit_server, fake_api, s3)

    async def scenario() -> tuple[dict, dict[str, str], list[dict]]:
        await space.open(stage=list(lines), recording=False, captions=True)
        voices = {who: await space.join_playing(who, role, ac.Speech())
                  for who, role in (("live-host", "host"), ("live-guest", "speaker"))}
        await space.join("live-listener", "listener")
        got = listen(space.clients[-1])
        await space.dispatch()
        await space.wait_for_worker()
        said = {}
        for who, line in lines.items():
            voice = voices[who]
            assert isinstance(voice, ac.Speech)
            said[who] = await say_and_wait(voice, speak(line), got, who)
        await ac.eventually(lambda: len(space.segments()) >= len(finals(got)), 10,
                            "the final segments at the API")
        tracks = {c.identity: next(iter(c.room.local_participant.track_publications)) for c in space.clients[:2]}
        return said, tracks, got

    try:
        said, tracks, got = aio.run(scenario())
    finally:
        aio.run(space.close())
    host, guest = said["live-host"], said["live-guest"]
    for who, heard in said.items():
        other = next(line for w, line in lines.items() if w != who)
        assert wer(lines[who], heard.text) <= WER_BOUND, (who, heard.text)
        assert wer(other, heard.text) > WRONG_WER_FLOOR, (who, heard.text)
        assert 0 < heard.latency <= LATENCY_BOUND, (who, heard.latency)
        assert {c["lk.transcribed_track_id"] for c in heard.captions} == {tracks[who]}
    assert {f["sender"] for f in finals(got)} == set(lines)  # the listener never captioned
    assert not {f["lk.segment_id"] for f in host.captions} & {f["lk.segment_id"] for f in guest.captions}
    segments = space.segments()
    assert sorted((s["speaker_id"], s["text"]) for s in segments) == sorted(
        (f["sender"], f["text"]) for f in finals(got))
    assert all(0 <= s["start_seconds"] < s["end_seconds"] for s in segments)
    first_guest = min(s["start_seconds"] for s in segments if s["speaker_id"] == "live-guest")
    assert max(s["end_seconds"] for s in segments if s["speaker_id"] == "live-host") <= first_guest

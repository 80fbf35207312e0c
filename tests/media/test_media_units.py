"""The worker's pieces without LiveKit: mixer, clip ring, playlist, codecs, and the recorder's
timeline (gaps, restarts, finalize) over an in-memory S3 and API."""
from __future__ import annotations

import asyncio
import io
import json
import logging
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from airwaves_media.codec import RATE, HlsRun, decode, ogg_opus
from airwaves_media.live import LiveHls
from airwaves_media.logs import JsonLines, Metric, metrics_log
from airwaves_media.mixer import Clock, Mixer, Source
from airwaves_media.playlist import Playlist
from airwaves_media.recorder import Recorder
from airwaves_media.ring import Ring
from tests.helpers import emf_points
from tests.integration.audio_clients import assert_quiet, assert_tone, rms


def tone(hz: float, seconds: float, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (amplitude * np.sin(2 * np.pi * hz * t) * 32767).astype(np.int16)


# -- the audio checks every media test uses ---------------------------------------------------
def test_the_tone_check_holds_in_every_window_where_an_average_would_not():
    """A 200 ms dropout in a second of tone, or a 100 ms burst of another tone, leaves the
    whole second's RMS and strongest frequency as they were: the windowed check fails both."""
    steady = tone(440, 1.0)
    assert_tone(steady, 440)
    dropout = steady.copy()
    dropout[int(0.4 * RATE):int(0.6 * RATE)] = 0
    assert rms(dropout) > 3000
    with pytest.raises(AssertionError, match=r"2 of 10 windows .* miss the 440 Hz tone; the first, at 0.4 s"):
        assert_tone(dropout, 440)
    other = steady.copy()
    other[int(0.7 * RATE):int(0.8 * RATE)] = tone(660, 0.1)
    with pytest.raises(AssertionError, match=r"1 of 10 windows .* at 660 Hz"):
        assert_tone(other, 440, "the listener")
    with pytest.raises(AssertionError, match="the listener"):
        assert_tone(other, 440, "the listener")


def test_the_silence_check_fails_on_one_loud_window():
    quiet = np.zeros(2 * RATE, dtype=np.int16)
    assert_quiet(quiet)
    quiet[int(1.5 * RATE):int(1.55 * RATE)] = tone(660, 0.05)
    assert rms(quiet) < 3000
    with pytest.raises(AssertionError, match=r"after the mute: 1 of 20 windows .* at 1.5 s, .* at 660 Hz"):
        assert_quiet(quiet, "after the mute")
    with pytest.raises(AssertionError, match="no audio"):
        assert_quiet(quiet[:100])


# -- mixer ------------------------------------------------------------------------------------
def test_mixer_sums_sources_and_pads_silence():
    mixer = Mixer(prefill=0)
    mixer.add("a")
    mixer.add("b")
    mixer.push("a", np.full(100, 1000, dtype=np.int16))
    mixer.push("b", np.full(50, 2000, dtype=np.int16))
    out = mixer.pull(200)
    assert out.size == 200
    assert (out[:50] == 3000).all() and (out[50:100] == 1000).all() and (out[100:] == 0).all()


def test_mixer_clips_instead_of_wrapping():
    mixer = Mixer(prefill=0)
    for k in "ab":
        mixer.add(k)
        mixer.push(k, np.full(10, 30000, dtype=np.int16))
    assert (mixer.pull(10) == 32767).all()


def test_quiet_mixer_still_yields_every_sample():
    mixer = Mixer()
    assert mixer.pull(4800).size == 4800 and not mixer.pull(4800).any()


def test_mixer_cuts_a_source_that_runs_ahead_to_its_backlog():
    mixer = Mixer(prefill=0, max_backlog=1000)
    mixer.add("a")
    mixer.push("a", np.arange(5000, dtype=np.int16))
    assert mixer.sources["a"].size == 1000
    assert mixer.pull(1)[0] == 4000  # the oldest samples were dropped


def test_mixer_ignores_frames_of_a_removed_source():
    mixer = Mixer(prefill=0)
    mixer.push("gone", np.ones(10, dtype=np.int16))
    assert not mixer.pull(10).any()


def test_jitter_buffer_waits_for_prefill_and_refills_after_running_dry():
    source = Source(prefill=100)
    source.push(np.ones(60, dtype=np.int16))
    assert source.take(10).size == 0  # still filling
    source.push(np.ones(60, dtype=np.int16))
    assert source.take(200).size == 120  # primed: all of it, then it ran dry
    source.push(np.ones(50, dtype=np.int16))
    assert source.take(10).size == 0  # filling again


def test_clock_yields_exactly_the_elapsed_samples():
    clock = Clock(100.0)
    assert clock.due(100.5) == RATE // 2
    assert clock.due(100.5) == 0
    assert clock.due(102.0) == RATE * 3 // 2
    assert clock.produced == 2 * RATE


# -- ring -------------------------------------------------------------------------------------
def test_ring_keeps_the_newest_samples_in_order_across_the_wrap():
    ring = Ring(10)
    ring.write(np.arange(7, dtype=np.int16))
    ring.write(np.arange(7, 13, dtype=np.int16))
    assert ring.last(10).tolist() == list(range(3, 13))
    assert ring.last(4).tolist() == [9, 10, 11, 12]
    assert ring.last(50).size == 10
    ring.write(np.arange(100, 130, dtype=np.int16))
    assert ring.last(3).tolist() == [127, 128, 129]


def test_ring_before_it_fills_answers_what_it_has():
    ring = Ring(10)
    ring.write(np.arange(3, dtype=np.int16))
    assert ring.last(30).tolist() == [0, 1, 2]


# -- playlist ---------------------------------------------------------------------------------
STARTED = datetime(2026, 12, 2, 12, 0, 0, tzinfo=UTC)


def test_playlist_marks_a_gap_and_parses_back_to_the_same_timeline():
    pl = Playlist(STARTED)
    pl.add(1.5, 2.005)
    pl.add(3.505, 2.005)
    pl.add(20.0, 1.2)  # recording was off in between
    pl.ended = True
    text = pl.render()
    assert text.count("#EXT-X-DISCONTINUITY") == 1
    assert text.index("#EXT-X-DISCONTINUITY") < text.index("000002.ts")
    assert "#EXT-X-ENDLIST" in text and "#EXT-X-PLAYLIST-TYPE:EVENT" in text
    assert "#EXT-X-TARGETDURATION:2" in text
    back = Playlist.parse(text, STARTED)
    assert [(s.seq, round(s.offset, 3), s.duration, s.discontinuity) for s in back.segments] == \
        [(0, 1.5, 2.005, False), (1, 3.505, 2.005, False), (2, 20.0, 1.2, True)]
    assert back.ended and back.next_seq == 3


def test_open_playlist_has_no_endlist():
    pl = Playlist(STARTED)
    pl.add(0, 2)
    assert "#EXT-X-ENDLIST" not in pl.render()


# -- codecs -----------------------------------------------------------------------------------
def test_hls_run_cuts_two_second_aac_segments_that_decode_to_the_tone(tmp_path):
    run = HlsRun(tmp_path, 5, 10.0)
    audio = tone(440, 7.0)
    for i in range(0, audio.size, 960):
        run.write(audio[i:i + 960])
    early = run.finished()
    run.close()
    segments = early + run.finished()
    assert [s.seq for s in segments] == [5, 6, 7, 8]
    assert all(abs(s.duration - 2.0) < 0.05 for s in segments[:3])
    assert abs(sum(s.duration for s in segments) - 7.0) < 0.1
    pcm = decode(segments[1].path.read_bytes(), "mpegts")
    assert abs(pcm.size / RATE - 2.0) < 0.05
    assert_tone(pcm, 440)


def test_ogg_opus_keeps_duration_and_pitch():
    data = ogg_opus(np.concatenate([tone(660, 1.5), np.zeros(RATE, dtype=np.int16)]))
    assert data[:4] == b"OggS" and b"OpusHead" in data[:100]
    pcm = decode(data)
    assert abs(pcm.size / RATE - 2.5) < 0.05
    assert_tone(pcm[: RATE], 660)
    assert_quiet(pcm[int(1.7 * RATE):], level=50)


# -- recorder timeline ------------------------------------------------------------------------
class MemoryStore:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put(self, key: str, body: bytes, content_type: str) -> None:
        self.objects[key] = body

    def get(self, key: str) -> bytes | None:
        return self.objects.get(key)

    def delete(self, key: str) -> None:
        self.objects.pop(key, None)


class RecordingApi:
    def __init__(self) -> None:
        self.reports: list[tuple] = []

    async def put_recording(self, space_id, state, duration_seconds, *, hls_key=None, ogg_key=None):
        self.reports.append((state, duration_seconds, hls_key, ogg_key))


def feed(recorder: Recorder, pcm: np.ndarray) -> None:
    for i in range(0, pcm.size, 960):
        recorder.write(pcm[i:i + 960])


def test_recorder_gap_restart_and_finalize_make_one_true_timeline(tmp_path):
    """Recording from 1 s to 5 s, off, on again from 9 s to 12 s by a *new* recorder (a restart):
    one playlist with a discontinuity, and an Ogg whose sample t is Space time t."""
    store, api = MemoryStore(), RecordingApi()

    async def scenario() -> float | None:
        first = Recorder("sp1", STARTED, store, api, tmp_path / "a")  # type: ignore[arg-type]
        await first.load()
        first.start(1.0)
        feed(first, tone(440, 4.0))
        await first.stop()
        second = Recorder("sp1", STARTED, store, api, tmp_path / "b")  # type: ignore[arg-type]
        await second.load()
        assert abs(second.playlist.end_offset - 5.0) < 0.1
        second.start(9.0)
        feed(second, tone(660, 3.0))
        return await second.finalize(12.5)

    duration = asyncio.run(scenario())
    assert duration == pytest.approx(12.5, abs=0.05)
    playlist = store.objects["spaces/sp1/hls/playlist.m3u8"].decode()
    assert playlist.count("#EXT-X-DISCONTINUITY") == 1 and playlist.endswith("#EXT-X-ENDLIST\n")
    seqs = [line for line in playlist.splitlines() if line.endswith(".ts")]
    assert all(f"spaces/sp1/hls/{s}" in store.objects for s in seqs)
    pcm = decode(store.objects["spaces/sp1/recording.ogg"])
    assert abs(pcm.size / RATE - 12.5) < 0.1

    def at(a: float, b: float) -> np.ndarray:
        return pcm[int(a * RATE):int(b * RATE)]

    assert_quiet(at(0, 0.9))
    assert_tone(at(1.5, 4.5), 440)
    assert_quiet(at(5.3, 8.7), "the gap")
    assert_tone(at(9.5, 11.5), 660)
    states = [r[0] for r in api.reports]
    assert states[0] == "recording" and states[-2:] == ["processing", "available"]
    assert api.reports[-1][3] == "spaces/sp1/recording.ogg"


def test_nothing_recorded_reports_nothing(tmp_path):
    store, api = MemoryStore(), RecordingApi()
    recorder = Recorder("sp2", STARTED, store, api, tmp_path)  # type: ignore[arg-type]
    assert asyncio.run(recorder.finalize(30.0)) is None
    assert api.reports == [] and store.objects == {}


# -- captions plumbing ------------------------------------------------------------------------
def test_vad_keeps_silence_from_the_engine_and_ends_an_utterance_after_the_hangover():
    from airwaves_media.captions import EnergyVad

    vad = EnergyVad(threshold=300, hangover=0.4)
    quiet, loud = np.zeros(480, dtype=np.int16), tone(440, 0.01)
    assert vad.update(quiet) == (False, False)
    assert vad.update(loud) == (True, False)
    states = [vad.update(quiet) for _ in range(40)]  # 0.4 s of silence
    assert states[:39] == [(True, False)] * 39 and states[39] == (False, True)
    assert vad.update(quiet) == (False, False)


def test_speaker_captions_emit_growing_interims_then_one_final_per_utterance():
    from airwaves_media.captions import ScriptedEngine, SpeakerCaptions

    engine = ScriptedEngine({"ann": ["one two three", "four"]})
    got = []
    now = [0.0]
    speaker = SpeakerCaptions("ann", "TR_1", engine.open("ann", "en"), got.append, lambda: now[0], prefix="sp")
    for _ in range(100):  # 1 s voiced
        speaker.push(tone(440, 0.01))
        now[0] += 0.01
    for _ in range(50):
        speaker.push(np.zeros(480, dtype=np.int16))
        now[0] += 0.01
    assert [c.text for c in got if not c.final] == ["one", "one two", "one two three"]
    finals = [c for c in got if c.final]
    assert [(c.text, c.segment_id, c.speaker, c.track_sid) for c in finals] == [("one two three", "sp-ann-1", "ann", "TR_1")]
    assert finals[0].start == 0.0 and finals[0].end > 1.0
    for _ in range(50):  # silence only: nothing reaches the engine
        speaker.push(np.zeros(480, dtype=np.int16))
    assert len(got) == 4


def test_a_soft_onset_before_the_vad_hears_speech_still_reaches_the_engine():
    """The 0.3 s before the first loud frame (a quiet "the ...") is given to the engine first,
    and the segment starts where that audio began; silence further back is not."""
    from airwaves_media.captions import PREFIX_PADDING, Hypothesis, SpeakerCaptions

    heard: list[np.ndarray] = []

    class Keeping:
        def accept(self, pcm: np.ndarray) -> list[Hypothesis]:
            heard.append(pcm)
            return []

        def finish(self) -> Hypothesis | None:
            return Hypothesis("the start", final=True)

    got = []
    now = [0.0]
    speaker = SpeakerCaptions("ann", "TR_1", Keeping(), got.append, lambda: now[0], prefix="sp")
    soft = tone(440, 0.01, amplitude=0.009)  # RMS about 210: under the VAD's 300
    for _ in range(100):  # 1 s of soft voice, then the loud part
        speaker.push(soft)
        now[0] += 0.01
    for _ in range(20):
        speaker.push(tone(440, 0.01))
        now[0] += 0.01
    for _ in range(50):
        speaker.push(np.zeros(480, dtype=np.int16))
        now[0] += 0.01
    assert sum(p.size for p in heard[:30]) == PREFIX_PADDING * RATE
    assert all(100 < rms(p) < 300 for p in heard[:30]) and rms(heard[30]) > 300
    assert len(heard) == 30 + 20 + 39  # then the loud part and the hangover (its last frame ends it)
    assert [(c.text, c.final) for c in got] == [("the start", True)]
    assert abs(got[0].start - (1.0 - PREFIX_PADDING)) < 0.011


def test_live_hls_slides_its_window_deletes_what_left_and_a_restart_numbers_on(tmp_path):
    """20 s of tone through a 4-segment live window, then a new writer (a restart) 4 s later:
    the playlist keeps the newest 4 segments, no PLAYLIST-TYPE, media and discontinuity
    sequences counting what slid out, only listed segments stored, ENDLIST at the end."""
    store = MemoryStore()

    async def scenario() -> None:
        first = LiveHls("sp1", STARTED, store, tmp_path / "a", keep=4)  # type: ignore[arg-type]
        await first.load()
        first.start(0.0)
        pcm = tone(440, 20.0)
        for i in range(0, pcm.size, 960):
            first.write(pcm[i:i + 960])
            if i % (RATE // 2) == 0:
                await first.flush()
        await first.stop()
        second = LiveHls("sp1", STARTED, store, tmp_path / "b", keep=4)  # type: ignore[arg-type]
        await second.load()
        second.start(24.0)
        pcm = tone(660, 6.0)
        for i in range(0, pcm.size, 960):
            second.write(pcm[i:i + 960])
        await second.stop(ended=True)

    asyncio.run(scenario())
    text = store.objects["spaces/sp1/live/playlist.m3u8"].decode()
    lines = text.splitlines()
    names = [x for x in lines if x.endswith(".ts")]
    assert len(names) == 4 and "#EXT-X-PLAYLIST-TYPE:EVENT" not in lines and lines[-1] == "#EXT-X-ENDLIST"
    first_seq = int(names[0].split(".")[0])
    assert f"#EXT-X-MEDIA-SEQUENCE:{first_seq}" in lines and first_seq >= 9
    assert [int(n.split(".")[0]) for n in names] == list(range(first_seq, first_seq + 4))
    assert "#EXT-X-DISCONTINUITY-SEQUENCE:1" in lines  # the restart's gap slid out of the window
    stored = sorted(k.rsplit("/", 1)[1] for k in store.objects if k.endswith(".ts"))
    assert stored == names
    assert_tone(decode(store.objects[f"spaces/sp1/live/{names[-2]}"], "mpegts"), 660)


def test_each_live_segment_upload_reports_how_far_behind_its_end_it_went_up(tmp_path):
    """A Space 30 s old whose live HLS starts at 20 s: 6 s cut at once are segments ending near 22,
    24 and 26 s, each uploaded 30 s minus its end after it (as its PROGRAM-DATE-TIME says)."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonLines())
    metrics_log.addHandler(handler)
    started = datetime.now(UTC) - timedelta(seconds=30)
    live = LiveHls("sp1", started, MemoryStore(), tmp_path)  # type: ignore[arg-type]
    try:
        async def scenario() -> None:
            live.start(20.0)
            live.write(tone(440, 6.0))
            await live.stop()

        asyncio.run(scenario())
    finally:
        metrics_log.removeHandler(handler)
    ends = [seg.offset + seg.duration for seg in live.playlist.segments]
    points = emf_points(out.getvalue())
    assert len(ends) >= 3 and abs(ends[-1] - 26) < 0.1
    assert [(p[1], p[2]) for p in points] == [(Metric.hls_upload_lag.value, "Seconds")] * len(ends)
    for (*_, lag), end in zip(points, ends, strict=True):
        assert 30 - end <= lag < 30 - end + 1.5, (end, lag)
    assert [json.loads(line)["segment"] for line in out.getvalue().splitlines()] == list(range(len(ends)))

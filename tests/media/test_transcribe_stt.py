"""The Amazon Transcribe streaming engine against a fake stream (issue 14): what goes out (locale,
16 kHz PCM in ~100 ms events, one request per speaking turn, silence only as each utterance's flush
and the keepalive of a long pause, the end of the stream when the turn ends) and how results come
back (partials as interim captions, a corrected partial replacing its words, each utterance's
finals on its ``finish``), what a typical turn is billed, and that a failed or stuck stream costs
a caption, never the worker. The events are the SDK's own model classes, so a change in their
shape fails here."""
from __future__ import annotations

import asyncio
import logging
import math
import time

import numpy as np
import pytest
from amazon_transcribe.model import Alternative, Result, Transcript, TranscriptEvent

from airwaves_media.captions import RATE, Caption, SpeakerCaptions, engine_from_env
from airwaves_media.transcribe_stt import CHUNK_BYTES, TranscribeEngine, default_client, streaming_locale
from tests.media.test_media_units import tone


def event(result_id: str, text: str, partial: bool) -> TranscriptEvent:
    return TranscriptEvent(Transcript([Result(result_id=result_id, is_partial=partial,
                                              alternatives=[Alternative(text, [], [])])]))


class FakeInput:
    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.ended = asyncio.Event()

    async def send_audio_event(self, audio_chunk: bytes) -> None:
        self.chunks.append(audio_chunk)

    async def end_stream(self) -> None:
        self.ended.set()

    def seconds(self) -> float:
        """Audio sent so far: what Transcribe bills (per second, at least 15 per request)."""
        return sum(map(len, self.chunks)) / 2 / 16_000


def voiced(chunk: bytes) -> bool:
    return bool(np.abs(np.frombuffer(chunk, dtype=np.int16)).max(initial=0) > 100)


class FakeStream:
    """Transcribe as the recognizer sees it, one scripted (partials, finals) pair per utterance:
    the partials once a quarter second of its voice came in, the finals once ``pause`` seconds
    of silence followed it (Transcribe finalizes at a pause in the audio, the stream staying
    open) or the input ended. ``hang``: finals never come, as from a stuck connection."""

    def __init__(self, utterances: list[tuple[list[TranscriptEvent], list[TranscriptEvent]]], hang: bool,
                 pause: float = 0.5) -> None:
        self.input_stream = FakeInput()
        self.utterances, self.hang, self.pause = utterances, hang, pause

    @property
    def output_stream(self):
        return self._results()

    def _heard(self, seen: int) -> tuple[float, float, int]:
        """(seconds of voice, seconds of silence after it) in the chunks from ``seen`` on."""
        voice = quiet = 0.0
        chunks = self.input_stream.chunks[seen:]
        for c in chunks:
            if voiced(c):
                voice, quiet = voice + len(c) / 32_000, 0.0
            elif voice:
                quiet += len(c) / 32_000
        return voice, quiet, len(chunks)

    async def _until(self, ready) -> bool:
        """Wait for ``ready()``; False when the input ended first."""
        while not ready():
            if self.input_stream.ended.is_set():
                return False
            await asyncio.sleep(0.002)
        return True

    async def _results(self):
        seen = 0
        for partials, finals in self.utterances:
            if not await self._until(lambda seen=seen: self._heard(seen)[0] >= 0.25):
                return
            for e in partials:
                yield e
            paused = await self._until(lambda seen=seen: self._heard(seen)[1] >= self.pause)
            if self.hang:
                await asyncio.sleep(3600)
            for e in finals:
                yield e
            if not paused:
                return
            seen += self._heard(seen)[2]
        await self.input_stream.ended.wait()


class FakeClient:
    def __init__(self, turns: list[list[tuple[list[TranscriptEvent], list[TranscriptEvent]]]], *,
                 fail: bool = False, hang: bool = False) -> None:
        """``turns``: for each stream the recognizer opens, its utterances' (partials, finals)."""
        self.turns = list(turns)
        self.fail, self.hang = fail, hang
        self.requests: list[dict] = []
        self.streams: list[FakeStream] = []

    async def start_stream_transcription(self, **request) -> FakeStream:
        self.requests.append(request)
        if self.fail:
            raise ConnectionError("no route to transcribestreaming")
        self.streams.append(FakeStream(self.turns.pop(0) if self.turns else [], self.hang))
        return self.streams[-1]

    def billed_seconds(self) -> float:
        return sum(max(15.0, math.ceil(s.input_stream.seconds())) for s in self.streams)


def frames(seconds: float) -> list[np.ndarray]:
    pcm = tone(440, seconds)
    return [pcm[i:i + 480] for i in range(0, pcm.size, 480)]


def speak(recognizer, seconds: float = 1.0) -> list[str]:
    """Feed ``seconds`` of voiced audio, then keep the utterance open (more voiced frames) until the
    partials had time to arrive, as a speaker who goes on talking would: the interim words shown."""
    shown = [h.text for f in frames(seconds) for h in recognizer.accept(f)]
    deadline = time.monotonic() + 5
    while not shown and time.monotonic() < deadline:
        time.sleep(0.01)
        shown += [h.text for h in recognizer.accept(frames(0.01)[0])]
    return shown


def ended(sent: FakeInput, timeout: float = 5.0) -> bool:
    """Whether the stream's input ends within ``timeout`` (the loop thread ends it a moment after)."""
    deadline = time.monotonic() + timeout
    while not sent.ended.is_set() and time.monotonic() < deadline:
        time.sleep(0.01)
    return sent.ended.is_set()


def engine(client: FakeClient, **kw) -> TranscribeEngine:
    return TranscribeEngine(region="eu-west-1", client_factory=lambda region: client, **kw)


@pytest.mark.parametrize("tag, locale", [("en", "en-US"), ("en-GB", "en-GB"), ("en_gb", "en-GB"), ("pt", "pt-BR"),
                                         ("pt-PT", "pt-PT"), ("es-MX", "es-US"), ("fr-CA", "fr-CA"), ("de", "de-DE")])
def test_a_spaces_language_is_sent_as_a_streaming_locale(tag, locale):
    assert streaming_locale(tag) == locale


def test_the_engine_serves_the_streaming_languages_and_refuses_others():
    e = engine(FakeClient([]))
    assert e.supports("en-US") and e.supports("ja") and e.supports("pt-BR")
    assert not e.supports("sw") and not e.supports("tlh")


def test_a_turn_is_one_stream_of_16khz_pcm_with_each_utterances_interim_and_final_words():
    client = FakeClient([[
        ([event("r1", "hello", True), event("r1", "hello world", True), event("r2", "how", True)],
         [event("r1", "Hello world.", False), event("r2", "How are you?", False)]),
        ([event("r3", "second", True)], [event("r3", "Second one.", False)]),
    ]])
    rec = engine(client).open("alice", "en-GB")
    shown = speak(rec)
    assert shown and shown[-1] == "hello world how", "partials joined in order, a corrected one replaced"
    final = rec.finish()
    assert final is not None and final.final and final.text == "Hello world. How are you?"

    for _ in range(200):  # a 2 s pause: nothing of it is sent
        rec.pause(np.zeros(480, dtype=np.int16))
    assert speak(rec, 0.5) == ["second"], "the next utterance's interim words are its own"
    assert rec.finish().text == "Second one."
    assert client.requests == [{"language_code": "en-GB", "media_sample_rate_hz": 16_000, "media_encoding": "pcm"}]
    sent = client.streams[0].input_stream
    assert not sent.ended.is_set(), "the turn's stream stays open through the pause"
    rec.close()
    assert ended(sent)

    short = [len(c) for c in sent.chunks if len(c) != CHUNK_BYTES]
    assert len(short) <= 2 and all(0 < n < CHUNK_BYTES for n in short), "100 ms events, but each utterance's tail"
    voice = b"".join(c for c in sent.chunks if voiced(c))
    assert len(voice) / 2 / 16_000 >= 1.5 - 0.1, "both utterances went out, as 16 kHz 16-bit samples"
    assert 1.5 <= sent.seconds() <= 1.5 + 2 * 1.1, "each utterance's end adds 1 s of silence, the pause none"
    pcm = np.frombuffer(voice, dtype=np.int16).astype(np.float64)
    spectrum = np.abs(np.fft.rfft(pcm[800:]))
    peak = np.fft.rfftfreq(pcm.size - 800, 1 / 16_000)[np.argmax(spectrum)]
    assert abs(peak - 440) <= 2, f"the speaker's 440 Hz, resampled, not noise ({peak:.0f} Hz)"


def test_a_late_correction_of_a_captioned_utterance_stays_out_of_the_next():
    """A final that comes after its utterance's caption timed out belongs to no later caption."""
    client = FakeClient([[([event("r1", "almost", True)], [event("r1", "Almost there.", False)]),
                          ([event("r2", "next", True)], [event("r2", "Next.", False)])]])
    rec = engine(client, final_timeout=3.0).open("erin", "en")
    speak(rec)
    with rec.lock:  # as if the timeout had passed: the utterance takes its partial words
        assert rec.heard.take() == "almost"
    rec.shown = ""
    rec.finish()  # the flush brings r1's final, which is dropped; nothing new to caption
    assert speak(rec, 0.5) == ["next"]
    assert rec.finish().text == "Next."


def test_the_keepalive_holds_a_long_pause_and_the_turn_ends_after_its_silence():
    """Transcribe ends a stream that gets no audio for 15 s: a turn allowed to pause 20 s
    gets 100 ms of silence every 5 s of its pause, and ends at 20 s; the next words open
    the next turn's stream."""
    client = FakeClient([[([event("r1", "one", True)], [event("r1", "One.", False)])],
                         [([event("r2", "two", True)], [event("r2", "Two.", False)])]])
    rec = engine(client, turn_silence=20.0).open("fay", "en")
    speak(rec)
    assert rec.finish().text == "One."
    sent = client.streams[0].input_stream

    def chunks_settled() -> int:
        time.sleep(0.1)  # the loop thread delivers what was queued
        return len(sent.chunks)

    before = chunks_settled()
    for _ in range(1200):  # 12 s of pause
        rec.pause(np.zeros(480, dtype=np.int16))
    assert chunks_settled() - before == 2 and not sent.ended.is_set()
    assert not any(voiced(c) for c in sent.chunks[before:])
    for _ in range(800):  # to 20 s: one more keepalive at 15 s, then the turn ends
        rec.pause(np.zeros(480, dtype=np.int16))
    assert chunks_settled() - before == 3 and ended(sent)

    assert speak(rec, 0.5) == ["two"]
    assert rec.finish().text == "Two."
    assert len(client.requests) == 2


def test_a_stream_that_fails_costs_a_caption_not_the_worker(caplog):
    client = FakeClient([], fail=True)
    rec = engine(client).open("bob", "en")
    for f in frames(0.5):
        assert rec.accept(f) == []
    with caplog.at_level(logging.ERROR, logger="airwaves_media.transcribe_stt"):
        assert rec.finish() is None
    assert "the stream failed" in caplog.text
    for f in frames(0.3):
        rec.accept(f)
    assert rec.finish() is None and len(client.requests) == 2, "the next utterance tries again"


def test_a_stuck_stream_gives_its_partial_words_within_the_timeout(caplog):
    client = FakeClient([[([event("r1", "almost there", True)], [])]], hang=True)
    rec = engine(client, final_timeout=0.3).open("carol", "en")
    assert speak(rec) == ["almost there"]
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="airwaves_media.transcribe_stt"):
        final = rec.finish()
    waited = time.monotonic() - started
    assert final is not None and final.text == "almost there"
    assert waited < 3, f"finish waited {waited:.1f}s"
    assert "no final result" in caplog.text


def feed(captions: SpeakerCaptions, now: list[float], pcm: np.ndarray) -> None:
    for i in range(0, pcm.size, 480):
        captions.push(pcm[i:i + 480])
        now[0] += 0.01


def test_speaker_captions_over_transcribe_publish_each_utterance_of_a_turn_as_its_own_segment():
    client = FakeClient([[([event("r1", "good", True)], [event("r1", "Good morning.", False)]),
                          ([], [event("r2", "Welcome.", False)])]])
    got: list[Caption] = []
    now = [0.0]
    captions = SpeakerCaptions("dana", "TR_1", engine(client).open("dana", "en"), got.append,
                               clock=lambda: now[0], prefix="sp1")
    deadline = time.monotonic() + 5
    feed(captions, now, tone(440, 1.0))
    while not got and time.monotonic() < deadline:
        feed(captions, now, tone(440, 0.01))
        time.sleep(0.01)
    feed(captions, now, np.zeros(RATE * 2, dtype=np.int16))  # the VAD's hangover ends it; a pause
    feed(captions, now, tone(440, 0.5))
    feed(captions, now, np.zeros(RATE, dtype=np.int16))
    captions.end()
    assert [(c.text, c.final, c.segment_id) for c in got] == [
        ("good", False, "sp1-dana-1"), ("Good morning.", True, "sp1-dana-1"), ("Welcome.", True, "sp1-dana-2")]
    assert {c.speaker for c in got} == {"dana"}
    assert got[1].start == 0.0 and got[1].end > 1.0 and got[2].start > got[1].end + 1.0
    assert len(client.requests) == 1 and ended(client.streams[0].input_stream)


PRICE_PER_MINUTE = 0.024  # USD, Transcribe streaming's first tier in us-east-1


def test_a_typical_turn_is_billed_for_its_speech_not_a_minimum_per_utterance(capsys):
    """A speaker's two-minute turn, 20 utterances of 4 s with 2 s pauses, then 12 s of quiet
    (the turn ends): one request for the turn, billed for the speech plus each utterance's
    padding and flush; a stream per utterance was billed 15 s each."""
    utterances, speech, pause = 20, 4.0, 2.0
    client = FakeClient([[([], [event(f"r{i}", f"Sentence {i}.", False)]) for i in range(utterances)]])
    got: list[Caption] = []
    now = [0.0]
    captions = SpeakerCaptions("gus", "TR_2", engine(client).open("gus", "en"), got.append,
                               clock=lambda: now[0], prefix="sp2")
    for _ in range(utterances):
        feed(captions, now, tone(440, speech))
        feed(captions, now, np.zeros(int(pause * RATE), dtype=np.int16))
    feed(captions, now, np.zeros(12 * RATE, dtype=np.int16))
    assert [c.text for c in got if c.final] == [f"Sentence {i}." for i in range(utterances)]
    assert len(client.requests) == 1 and ended(client.streams[0].input_stream)

    per_utterance = sum(max(15, math.ceil(c.end - c.start)) for c in got if c.final)
    per_turn = client.billed_seconds()
    assert per_utterance == utterances * 15
    # each utterance: its 4 s, the VAD's 0.3 s of lead-in and 0.4 s hangover, 1 s of flush
    assert abs(per_turn - utterances * (speech + 0.3 + 0.4 + 1.0)) <= 2, per_turn
    with capsys.disabled():
        print(f"\nTranscribe, a 2-minute turn of {utterances} utterances ({utterances * speech:.0f} s of speech): "
              f"a stream per utterance {per_utterance} s billed (${per_utterance / 60 * PRICE_PER_MINUTE:.3f}), "
              f"a stream per turn {per_turn:.0f} s (${per_turn / 60 * PRICE_PER_MINUTE:.3f}), "
              f"{per_utterance / per_turn:.1f}x less")


def test_the_setting_selects_transcribe_in_the_nodes_region(monkeypatch):
    monkeypatch.setenv("AIRWAVES_STT_ENGINE", "transcribe")
    monkeypatch.setenv("AWS_REGION", "ap-southeast-2")
    chosen = engine_from_env()
    assert isinstance(chosen, TranscribeEngine) and chosen.name == "transcribe"
    assert chosen.region == "ap-southeast-2"
    real = default_client("ap-southeast-2")
    assert type(real).__name__ == "TranscribeStreamingClient" and real.region == "ap-southeast-2"

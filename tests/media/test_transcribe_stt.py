"""The Amazon Transcribe streaming engine against a fake stream (issue 14): what goes out (locale,
16 kHz PCM in ~100 ms events, one request per utterance, the end of the stream) and how results come
back (partials as interim captions, a corrected partial replacing its words, finals on ``finish``),
and that a failed or stuck stream costs a caption, never the worker. The events are the SDK's own
model classes, so a change in their shape fails here."""
from __future__ import annotations

import asyncio
import logging
import time

import numpy as np
import pytest
from amazon_transcribe.model import Alternative, Result, Transcript, TranscriptEvent

from airwaves_media.captions import Caption, SpeakerCaptions, engine_from_env
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


class FakeStream:
    """Sends ``partials`` once a quarter second of audio came in, then ``finals`` after the end
    of the input (``hang``: never answers the end, as a stuck connection would)."""

    def __init__(self, partials: list[TranscriptEvent], finals: list[TranscriptEvent], hang: bool) -> None:
        self.input_stream = FakeInput()
        self.partials, self.finals, self.hang = partials, finals, hang

    @property
    def output_stream(self):
        return self._results()

    async def _results(self):
        while sum(map(len, self.input_stream.chunks)) < CHUNK_BYTES * 2.5:
            await asyncio.sleep(0.005)
        for e in self.partials:
            yield e
        await self.input_stream.ended.wait()
        if self.hang:
            await asyncio.sleep(3600)
        for e in self.finals:
            yield e


class FakeClient:
    def __init__(self, utterances: list[tuple[list[TranscriptEvent], list[TranscriptEvent]]], *,
                 fail: bool = False, hang: bool = False) -> None:
        self.utterances = list(utterances)
        self.fail, self.hang = fail, hang
        self.requests: list[dict] = []
        self.streams: list[FakeStream] = []

    async def start_stream_transcription(self, **request) -> FakeStream:
        self.requests.append(request)
        if self.fail:
            raise ConnectionError("no route to transcribestreaming")
        partials, finals = self.utterances.pop(0)
        self.streams.append(FakeStream(partials, finals, self.hang))
        return self.streams[-1]


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


def test_an_utterance_is_one_stream_of_16khz_pcm_with_interim_and_final_words():
    client = FakeClient([
        ([event("r1", "hello", True), event("r1", "hello world", True), event("r2", "how", True)],
         [event("r1", "Hello world.", False), event("r2", "How are you?", False)]),
        ([event("r3", "second", True)], [event("r3", "Second one.", False)]),
    ])
    rec = engine(client).open("alice", "en-GB")
    shown = speak(rec)
    assert shown and shown[-1] == "hello world how", "partials joined in order, a corrected one replaced"
    final = rec.finish()
    assert final is not None and final.final and final.text == "Hello world. How are you?"

    assert client.requests == [{"language_code": "en-GB", "media_sample_rate_hz": 16_000, "media_encoding": "pcm"}]
    sent = client.streams[0].input_stream
    assert sent.ended.is_set()
    sizes = [len(c) for c in sent.chunks]
    assert all(s == CHUNK_BYTES for s in sizes[:-1]) and 0 < sizes[-1] <= CHUNK_BYTES + 2 * 480
    assert sum(sizes) / 2 / 16_000 >= 0.98, "the whole second spoken went out, as 16 kHz 16-bit samples"
    pcm = np.frombuffer(b"".join(sent.chunks), dtype=np.int16).astype(np.float64)
    spectrum = np.abs(np.fft.rfft(pcm[800:]))
    peak = np.fft.rfftfreq(pcm.size - 800, 1 / 16_000)[np.argmax(spectrum)]
    assert abs(peak - 440) <= 2, f"the speaker's 440 Hz, resampled, not noise ({peak:.0f} Hz)"

    assert speak(rec, 0.5) == ["second"]
    assert rec.finish().text == "Second one."
    assert len(client.requests) == 2, "the next utterance opens its own stream"


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
    client = FakeClient([([event("r1", "almost there", True)], [])], hang=True)
    rec = engine(client, final_timeout=0.3).open("carol", "en")
    assert speak(rec) == ["almost there"]
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="airwaves_media.transcribe_stt"):
        final = rec.finish()
    waited = time.monotonic() - started
    assert final is not None and final.text == "almost there"
    assert waited < 3, f"finish waited {waited:.1f}s"
    assert "no final result" in caplog.text


def test_speaker_captions_over_transcribe_publish_interim_then_final_segments():
    client = FakeClient([([event("r1", "good", True)], [event("r1", "Good morning.", False)])])
    got: list[Caption] = []
    now = [0.0]
    captions = SpeakerCaptions("dana", "TR_1", engine(client).open("dana", "en"), got.append,
                               clock=lambda: now[0], prefix="sp1")
    deadline = time.monotonic() + 5
    for f in frames(1.0):
        captions.push(f)
        now[0] += 0.01
    while not got and time.monotonic() < deadline:
        captions.push(frames(0.01)[0])
        now[0] += 0.01
        time.sleep(0.01)
    for _ in range(60):  # the VAD's hangover of silence ends the utterance
        captions.push(np.zeros(480, dtype=np.int16))
        now[0] += 0.01
    assert [(c.text, c.final) for c in got] == [("good", False), ("Good morning.", True)]
    assert {c.segment_id for c in got} == {"sp1-dana-1"} and {c.speaker for c in got} == {"dana"}
    assert got[-1].start == 0.0 and got[-1].end > 1.0


def test_the_setting_selects_transcribe_in_the_nodes_region(monkeypatch):
    monkeypatch.setenv("AIRWAVES_STT_ENGINE", "transcribe")
    monkeypatch.setenv("AWS_REGION", "ap-southeast-2")
    chosen = engine_from_env()
    assert isinstance(chosen, TranscribeEngine) and chosen.name == "transcribe"
    assert chosen.region == "ap-southeast-2"
    real = default_client("ap-southeast-2")
    assert type(real).__name__ == "TranscribeStreamingClient" and real.region == "ap-southeast-2"

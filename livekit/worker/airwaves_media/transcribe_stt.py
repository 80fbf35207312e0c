"""The caption engine for deployed stages: Amazon Transcribe streaming (``amazon-transcribe``,
AWS's own SDK for the HTTP/2 event stream, which boto3 does not speak), ``AIRWAVES_STT_ENGINE=transcribe``.

The worker's recognizer port is synchronous and per utterance (``captions.Recognizer``) while the
SDK is asyncio, so one event loop in a daemon thread carries every stream of the process and a
recognizer only hands it audio and reads back what arrived. Each speaking turn of a speaker is one
``StartStreamTranscription`` request (AWS bills a request at least 15 s; ``TranscribeRecognizer``
says how a stream is kept through pauses): audio goes out as 16 kHz mono PCM in ~100 ms events;
partial results become interim captions, and each utterance's ``finish`` waits a bounded time
for its final results. Results are keyed by Transcribe's ``result_id``, so a corrected partial
replaces its earlier words.
The node role grants ``transcribe:StartStreamTranscription`` and nothing else of Transcribe.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from airwaves_media.captions import RATE, Downsampler, Hypothesis, Recognizer, primary_language, serves
from airwaves_media.logs import failure

log = logging.getLogger(__name__)

# The streaming locales (AWS's list of streaming language codes), and the one a bare primary
# language gets: a Space in ``pt`` is transcribed as Brazilian Portuguese, ``pt-PT`` as European.
STREAMING_LOCALES = frozenset({
    "en-US", "en-GB", "en-AU", "en-IN", "en-IE", "en-NZ", "en-AB", "en-ZA", "en-WL", "es-US", "es-ES",
    "fr-FR", "fr-CA", "de-DE", "de-CH", "it-IT", "pt-BR", "pt-PT", "ja-JP", "ko-KR", "zh-CN", "zh-TW",
    "zh-HK", "th-TH", "ar-SA", "ar-AE", "ca-ES", "hi-IN", "nl-NL", "no-NO", "sv-SE", "pl-PL", "fi-FI",
})
DEFAULT_LOCALE = {
    "en": "en-US", "es": "es-US", "fr": "fr-FR", "de": "de-DE", "it": "it-IT", "pt": "pt-BR", "ja": "ja-JP",
    "ko": "ko-KR", "zh": "zh-CN", "th": "th-TH", "ar": "ar-SA", "ca": "ca-ES", "hi": "hi-IN", "nl": "nl-NL",
    "no": "no-NO", "sv": "sv-SE", "pl": "pl-PL", "fi": "fi-FI",
}
CHUNK_BYTES = Downsampler.RATE * 2 // 10  # 100 ms of 16-bit mono: AWS suggests 50-200 ms per event
SILENCE_CHUNK = bytes(CHUNK_BYTES)


def streaming_locale(language: str) -> str:
    """The Space's BCP 47 tag as the locale Transcribe takes (``en_gb`` -> ``en-GB``)."""
    parts = language.replace("_", "-").split("-")
    if len(parts) >= 2:
        tag = f"{parts[0].lower()}-{parts[-1].upper()}"
        if tag in STREAMING_LOCALES:
            return tag
    return DEFAULT_LOCALE[primary_language(language)]


@functools.cache
def stream_loop() -> asyncio.AbstractEventLoop:
    """The process's one loop for Transcribe streams, in a daemon thread (the worker's own loop
    must not wait on AWS, and the port the captions call is synchronous)."""
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, name="transcribe-streams", daemon=True).start()
    return loop


def default_client(region: str) -> Any:
    from amazon_transcribe.client import TranscribeStreamingClient

    return TranscribeStreamingClient(region=region)


@dataclass
class Heard:
    """What one stream has returned so far, in the order Transcribe first sent each result. A
    stream carries a whole speaking turn, so each utterance ``take``s its results when it ends:
    the next one's words start after them, and a late correction of a taken result is dropped
    (its caption was already final)."""

    order: list[str] = field(default_factory=list)
    text: dict[str, str] = field(default_factory=dict)
    final: set[str] = field(default_factory=set)
    taken: set[str] = field(default_factory=set)

    def update(self, result_id: str, text: str, partial: bool) -> None:
        if result_id in self.taken:
            return
        if result_id not in self.text:
            self.order.append(result_id)
        self.text[result_id] = text
        if not partial:
            self.final.add(result_id)

    def current(self) -> list[str]:
        """The results of the utterance under way (none taken yet)."""
        return [r for r in self.order if r not in self.taken]

    def words(self, finals_only: bool = False) -> str:
        ids = [r for r in self.current() if not finals_only or r in self.final]
        return " ".join(t for t in (self.text[r].strip() for r in ids) if t)

    def settled(self) -> bool:
        """Every result of the utterance under way is final (and there is one)."""
        ids = self.current()
        return bool(ids) and all(r in self.final for r in ids)

    def take(self) -> str:
        """The utterance's words (its finals, else what it had) and the next utterance's start."""
        words = self.words(finals_only=True) or self.words()
        self.taken.update(self.current())
        return words


class TranscribeRecognizer:
    """One stage speaker's captions over Transcribe, one stream per speaking turn: a request is
    billed at least 15 s, so a stream per utterance billed most short utterances as 15 s.

    A turn's stream opens at its first voiced audio and stays open across the speaker's pauses.
    Transcribe ends a stream that gets no audio for 15 s and finalizes a result at a pause in
    the audio, so: the end of each utterance sends ``flush`` seconds of silence at once and waits
    (``final_timeout``) for that utterance's results to be final; the quiet audio of a pause is
    not sent (it would be billed), only a 100 ms chunk of silence every ``keepalive`` seconds of
    it; after ``turn_silence`` seconds of quiet, or when the speaker's track goes (``close``),
    the stream ends and the next voiced audio opens the next turn's."""

    def __init__(self, client: Any, locale: str, loop: asyncio.AbstractEventLoop, *, final_timeout: float = 3.0,
                 turn_silence: float = 10.0, flush: float = 1.0, keepalive: float = 5.0) -> None:
        self.client = client
        self.locale = locale
        self.loop = loop
        self.final_timeout = final_timeout
        self.turn_silence = turn_silence
        self.flush_chunks = max(1, round(flush * Downsampler.RATE * 2 / CHUNK_BYTES))
        self.keepalive = keepalive
        self.downsampler = Downsampler()
        self.lock = threading.Lock()
        self.updated = threading.Event()
        self.shown = ""
        self._new_turn()

    def _new_turn(self) -> None:
        self.pending = bytearray()
        self.audio: asyncio.Queue[bytes | None] | None = None
        self.session: concurrent.futures.Future[None] | None = None
        self.heard = Heard()
        self.quiet = 0.0  # seconds of pause since the last voiced audio
        self.unsent = 0.0  # seconds of pause since the stream was last sent anything

    def _send(self, chunk: bytes | None) -> None:
        if self.session is None:
            if chunk is None:
                return
            self.audio = asyncio.Queue()
            self.session = asyncio.run_coroutine_threadsafe(self._stream(self.audio, self.heard), self.loop)
        assert self.audio is not None
        self.loop.call_soon_threadsafe(self.audio.put_nowait, chunk)
        self.unsent = 0.0

    def _queue(self, data: bytes) -> None:
        self.pending += data
        while len(self.pending) >= CHUNK_BYTES:
            self._send(bytes(self.pending[:CHUNK_BYTES]))
            del self.pending[:CHUNK_BYTES]

    async def _stream(self, audio: asyncio.Queue[bytes | None], heard: Heard) -> None:
        from amazon_transcribe.model import TranscriptEvent

        try:
            stream = await self.client.start_stream_transcription(
                language_code=self.locale, media_sample_rate_hz=Downsampler.RATE, media_encoding="pcm")

            async def send() -> None:
                while (chunk := await audio.get()) is not None:
                    await stream.input_stream.send_audio_event(audio_chunk=chunk)
                await stream.input_stream.end_stream()

            sender = asyncio.ensure_future(send())
            async for event in stream.output_stream:
                if not isinstance(event, TranscriptEvent):
                    continue
                for result in event.transcript.results:
                    if result.result_id and result.alternatives:
                        with self.lock:
                            heard.update(result.result_id, result.alternatives[0].transcript or "",
                                         bool(result.is_partial))
                        self.updated.set()
            await sender
        finally:
            self.updated.set()

    def accept(self, pcm: np.ndarray) -> list[Hypothesis]:
        self.quiet = 0.0
        self._queue(self.downsampler.push(pcm).tobytes())
        with self.lock:
            words = self.heard.words()
        if words and words != self.shown:
            self.shown = words
            return [Hypothesis(words, final=False)]
        return []

    def pause(self, pcm: np.ndarray) -> None:
        """Quiet audio between utterances (``SpeakerCaptions`` hands it over): keeps the turn's
        stream alive, or ends the turn after ``turn_silence`` seconds of it."""
        if self.session is None:
            return
        seconds = pcm.size / RATE
        self.quiet += seconds
        self.unsent += seconds
        if self.quiet >= self.turn_silence:
            self.close()
        elif self.unsent >= self.keepalive:
            self._send(SILENCE_CHUNK)

    def _wait_for_finals(self) -> None:
        session = self.session
        assert session is not None
        deadline = time.monotonic() + self.final_timeout
        while not session.done():
            self.updated.clear()  # before the check: an update after it wakes the wait
            with self.lock:
                if self.heard.settled():
                    return
            left = deadline - time.monotonic()
            if left <= 0:
                log.warning("transcribe: no final result within %.1fs (%s)", self.final_timeout, self.locale)
                return
            self.updated.wait(min(left, 0.05))
        error = session.exception()
        if error is not None:  # one caption lost, logged; the Space goes on
            log.error("transcribe: the stream failed (%s)", self.locale, exc_info=error, extra=failure("captions"))

    def finish(self) -> Hypothesis | None:
        """The utterance ended: send what is left of it and a moment of silence (Transcribe
        finalizes at a pause), take its final words. A stream that failed or did not finalize in
        ``final_timeout`` gives what it had (finals first), or no caption, never an error; a
        failed stream is dropped and the next utterance opens another. A blip too short to have
        opened a stream opens none (it would be billed 15 s)."""
        self.shown = ""
        self._queue(self.downsampler.flush().tobytes())
        if self.pending and self.session is not None:
            self._send(bytes(self.pending))
        self.pending.clear()
        if self.session is None:
            return None
        for _ in range(self.flush_chunks):
            self._send(SILENCE_CHUNK)
        self._wait_for_finals()
        with self.lock:
            words = self.heard.take()
        if self.session.done():
            self._new_turn()
        return Hypothesis(words, final=True) if words else None

    def close(self) -> None:
        """End the turn's stream (each utterance took its words at its own ``finish``)."""
        self._send(None)
        self._new_turn()


@dataclass
class TranscribeEngine:
    """``region``: ``AWS_REGION`` (the node's); ``client_factory`` builds the SDK client (tests
    pass a fake stream); ``turn_silence``: the pause (``AIRWAVES_TRANSCRIBE_TURN_SILENCE``
    seconds, default 10) that ends a speaking turn and its stream. One client per engine, one
    stream per speaker's turn."""

    region: str = field(default_factory=lambda: os.environ.get("AWS_REGION") or os.environ.get(
        "AWS_DEFAULT_REGION") or "us-east-1")
    client_factory: Callable[[str], Any] = default_client
    final_timeout: float = 3.0
    turn_silence: float = field(default_factory=lambda: float(os.environ.get("AIRWAVES_TRANSCRIBE_TURN_SILENCE", "10")))
    name: str = "transcribe"
    languages: frozenset[str] | None = frozenset(DEFAULT_LOCALE)

    @functools.cached_property
    def client(self) -> Any:
        return self.client_factory(self.region)

    def supports(self, language: str) -> bool:
        return serves(self.languages, language)

    def open(self, speaker: str, language: str) -> Recognizer:
        return TranscribeRecognizer(self.client, streaming_locale(language), stream_loop(),
                                    final_timeout=self.final_timeout, turn_silence=self.turn_silence)

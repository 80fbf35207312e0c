"""The caption engine for deployed stages: Amazon Transcribe streaming (``amazon-transcribe``,
AWS's own SDK for the HTTP/2 event stream, which boto3 does not speak), ``AIRWAVES_STT_ENGINE=transcribe``.

The worker's recognizer port is synchronous and per utterance (``captions.Recognizer``) while the
SDK is asyncio, so one event loop in a daemon thread carries every stream of the process and a
recognizer only hands it audio and reads back what arrived. Each voiced utterance is one
``StartStreamTranscription`` request (the VAD keeps silence out, and AWS bills a request at least
15 s): audio goes out as 16 kHz mono PCM in ~100 ms events; partial results become interim
captions, and ``finish`` ends the stream and waits a bounded time for its final results.
Results are keyed by Transcribe's ``result_id``, so a corrected partial replaces its earlier words.
The node role grants ``transcribe:StartStreamTranscription`` and nothing else of Transcribe.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from airwaves_media.captions import Downsampler, Hypothesis, Recognizer, primary_language, serves

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
    """What one stream has returned so far, in the order Transcribe first sent each result."""

    order: list[str] = field(default_factory=list)
    text: dict[str, str] = field(default_factory=dict)
    final: set[str] = field(default_factory=set)

    def update(self, result_id: str, text: str, partial: bool) -> None:
        if result_id not in self.text:
            self.order.append(result_id)
        self.text[result_id] = text
        if not partial:
            self.final.add(result_id)

    def words(self, finals_only: bool = False) -> str:
        ids = [r for r in self.order if not finals_only or r in self.final]
        return " ".join(t for t in (self.text[r].strip() for r in ids) if t)


class TranscribeRecognizer:
    def __init__(self, client: Any, locale: str, loop: asyncio.AbstractEventLoop,
                 final_timeout: float = 3.0) -> None:
        self.client = client
        self.locale = locale
        self.loop = loop
        self.final_timeout = final_timeout
        self.downsampler = Downsampler()
        self.lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self.pending = bytearray()
        self.audio: asyncio.Queue[bytes | None] | None = None
        self.session: concurrent.futures.Future[None] | None = None
        self.heard = Heard()
        self.shown = ""

    def _send(self, chunk: bytes | None) -> None:
        if self.session is None:
            self.audio = asyncio.Queue()
            self.session = asyncio.run_coroutine_threadsafe(self._stream(self.audio), self.loop)
        assert self.audio is not None
        self.loop.call_soon_threadsafe(self.audio.put_nowait, chunk)

    async def _stream(self, audio: asyncio.Queue[bytes | None]) -> None:
        from amazon_transcribe.model import TranscriptEvent

        stream = await self.client.start_stream_transcription(
            language_code=self.locale, media_sample_rate_hz=Downsampler.RATE, media_encoding="pcm")

        async def send() -> None:
            while (chunk := await audio.get()) is not None:
                await stream.input_stream.send_audio_event(audio_chunk=chunk)
            await stream.input_stream.end_stream()

        sender = asyncio.ensure_future(send())
        heard = self.heard
        async for event in stream.output_stream:
            if not isinstance(event, TranscriptEvent):
                continue
            for result in event.transcript.results:
                if result.result_id and result.alternatives:
                    with self.lock:
                        heard.update(result.result_id, result.alternatives[0].transcript or "",
                                     bool(result.is_partial))
        await sender

    def accept(self, pcm: np.ndarray) -> list[Hypothesis]:
        self.pending += self.downsampler.push(pcm).tobytes()
        while len(self.pending) >= CHUNK_BYTES:
            self._send(bytes(self.pending[:CHUNK_BYTES]))
            del self.pending[:CHUNK_BYTES]
        with self.lock:
            words = self.heard.words()
        if words and words != self.shown:
            self.shown = words
            return [Hypothesis(words, final=False)]
        return []

    def finish(self) -> Hypothesis | None:
        """End the utterance's stream and take its final words; a stream that failed or did not
        finish in ``final_timeout`` gives what it had (finals first), or no caption, never an error."""
        tail = bytes(self.pending) + self.downsampler.flush().tobytes()
        session = self.session
        if session is not None:
            if tail:
                self._send(tail)
            self._send(None)
            try:
                session.result(timeout=self.final_timeout)
            except concurrent.futures.TimeoutError:
                log.warning("transcribe: no final result within %.1fs (%s)", self.final_timeout, self.locale)
            except Exception:  # one caption lost, logged; the Space goes on
                log.exception("transcribe: the stream failed (%s)", self.locale)
        with self.lock:
            words = self.heard.words(finals_only=True) or self.heard.words()
        self._reset()
        return Hypothesis(words, final=True) if words else None


@dataclass
class TranscribeEngine:
    """``region``: ``AWS_REGION`` (the node's); ``client_factory`` builds the SDK client (tests
    pass a fake stream). One client per engine, one stream per voiced utterance."""

    region: str = field(default_factory=lambda: os.environ.get("AWS_REGION") or os.environ.get(
        "AWS_DEFAULT_REGION") or "us-east-1")
    client_factory: Callable[[str], Any] = default_client
    final_timeout: float = 3.0
    name: str = "transcribe"
    languages: frozenset[str] | None = frozenset(DEFAULT_LOCALE)

    @functools.cached_property
    def client(self) -> Any:
        return self.client_factory(self.region)

    def supports(self, language: str) -> bool:
        return serves(self.languages, language)

    def open(self, speaker: str, language: str) -> Recognizer:
        return TranscribeRecognizer(self.client, streaming_locale(language), stream_loop(), self.final_timeout)

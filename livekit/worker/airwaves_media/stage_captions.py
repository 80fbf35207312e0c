"""The captioners of one Space's stage: one per subscribed stage microphone, opened in the
Space's language only when the engine can do it (no captions rather than wrong ones). A language
change while live reopens them (or closes them, for a language the engine cannot do); a
speaker's utterance numbers carry across reopenings, so segment ids never repeat.

With ``threaded`` (the worker) each captioner runs on a thread of its own: an engine decodes for
hundreds of milliseconds (Whisper) or waits seconds for a final (Transcribe), and on the worker's
event loop that would stall the mixer, the recording and the live HLS behind it."""
from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import queue
import threading
from collections.abc import Callable, Iterator

import numpy as np

from airwaves_media.captions import RATE, Caption, SpeakerCaptions, SpeechEngine
from airwaves_media.logs import failure

log = logging.getLogger("airwaves_media.captions")

BACKLOG_SECONDS = 30.0  # audio a captioner may fall behind by before frames are dropped


class CaptionThread:
    """A captioner fed through a bounded queue, with the Space offset each frame arrived at (so
    start and end are when it was said, not when it was decoded). Past ``backlog`` seconds behind,
    frames are dropped: captions lose words, the recording loses nothing. ``close()`` lets it
    finish what is queued and the utterance under way, then stop."""

    def __init__(self, captioner: SpeakerCaptions, clock: Callable[[], float], *,
                 backlog: float = BACKLOG_SECONDS, frame_seconds: float = 0.01) -> None:
        self.captioner = captioner
        self.clock = clock
        self.frames: queue.Queue[tuple[np.ndarray, float] | None] = queue.Queue(
            maxsize=max(1, int(backlog / frame_seconds)))
        self.dropped = 0
        self.thread = threading.Thread(target=self._run, name=f"captions-{captioner.speaker}", daemon=True)
        self.thread.start()

    def push(self, pcm: np.ndarray) -> None:
        try:
            self.frames.put_nowait((pcm, self.clock()))
        except queue.Full:
            if self.dropped == 0:
                log.warning("captions of %s are %.0f s behind: dropping audio", self.captioner.speaker,
                            self.frames.maxsize * pcm.size / RATE)
            self.dropped += 1

    def close(self) -> None:
        while True:
            try:
                self.frames.put(None, timeout=0.1)
                return
            except queue.Full:  # a stuck engine: make room for the stop, its oldest audio goes
                with contextlib.suppress(queue.Empty):
                    self.frames.get_nowait()

    def join(self, timeout: float) -> None:
        self.thread.join(timeout)

    def _run(self) -> None:
        while (item := self.frames.get()) is not None:
            try:
                self.captioner.push(*item)
            except Exception:
                log.exception("the caption engine failed on %s's audio", self.captioner.speaker,
                              extra=failure("captions"))
        try:
            self.captioner.end()
        except Exception:
            log.exception("the caption engine failed ending %s's utterance", self.captioner.speaker,
                          extra=failure("captions"))


class StageCaptions:
    def __init__(self, engine: SpeechEngine | None, emit: Callable[[Caption], None], clock: Callable[[], float],
                 *, prefix: str, language: str = "en", threaded: bool = False) -> None:
        self.engine = engine
        self.emit = emit
        self.clock = clock
        self.prefix = prefix
        self.language = language
        self.threaded = threaded
        self.tracks: dict[str, str] = {}  # track sid -> speaker identity
        self.captioners: dict[str, SpeakerCaptions | CaptionThread] = {}
        self.numbers: dict[str, Iterator[int]] = {}  # speaker -> their utterance numbers (segment ids)
        self.closing: list[CaptionThread] = []

    @property
    def available(self) -> bool:
        """Whether this Space's language gets captions from this worker's engine."""
        return self.engine is not None and self.engine.supports(self.language)

    def add(self, sid: str, speaker: str) -> None:
        self.remove(sid)
        self.tracks[sid] = speaker
        self._open(sid)

    def remove(self, sid: str) -> None:
        self.tracks.pop(sid, None)
        self._close(sid)

    def set_language(self, language: str) -> None:
        if language == self.language:
            return
        self.language = language
        for sid in list(self.captioners):
            self._close(sid)
        if self.engine is not None and not self.available:
            log.warning("the %s caption engine cannot do %r: no captions in %s", self.engine.name, language,
                        self.prefix)
        for sid in self.tracks:
            self._open(sid)

    def push(self, sid: str, pcm: np.ndarray) -> None:
        captioner = self.captioners.get(sid)
        if captioner is not None:
            captioner.push(pcm)

    async def drain(self, timeout: float) -> None:
        """Close every captioner and wait (bounded) for the threads to finish what they hold, so
        the last words of a Space reach the transcript."""
        for sid in list(self.captioners):
            self._close(sid)
        threads, self.closing = self.closing, []
        for t in threads:
            await asyncio.to_thread(t.join, timeout)
        await asyncio.sleep(0)  # let the captions they handed to the loop run

    def _open(self, sid: str) -> None:
        if self.engine is None or not self.available:
            return
        speaker = self.tracks[sid]
        numbers = self.numbers.setdefault(speaker, itertools.count(1))
        if not self.threaded:
            self.captioners[sid] = SpeakerCaptions(speaker, sid, self.engine.open(speaker, self.language), self.emit,
                                                   self.clock, prefix=self.prefix, numbers=numbers)
            return
        loop = asyncio.get_running_loop()

        def emit(caption: Caption) -> None:  # on the caption thread: hand it to the loop
            loop.call_soon_threadsafe(self.emit, caption)

        captioner = SpeakerCaptions(speaker, sid, self.engine.open(speaker, self.language), emit, self.clock,
                                    prefix=self.prefix, numbers=numbers)
        self.captioners[sid] = CaptionThread(captioner, self.clock)

    def _close(self, sid: str) -> None:
        captioner = self.captioners.pop(sid, None)
        if isinstance(captioner, CaptionThread):
            captioner.close()
            self.closing = [t for t in self.closing if t.thread.is_alive()] + [captioner]
        elif captioner is not None:
            captioner.end()

"""The captioners of one Space's stage: one per subscribed stage microphone, opened in the
Space's language only when the engine can do it (no captions rather than wrong ones). A language
change while live reopens them (or closes them, for a language the engine cannot do); a
speaker's utterance count carries across reopenings, so segment ids never repeat."""
from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np

from airwaves_media.captions import Caption, SpeakerCaptions, SpeechEngine

log = logging.getLogger("airwaves_media.captions")


class StageCaptions:
    def __init__(self, engine: SpeechEngine | None, emit: Callable[[Caption], None], clock: Callable[[], float],
                 *, prefix: str, language: str = "en") -> None:
        self.engine = engine
        self.emit = emit
        self.clock = clock
        self.prefix = prefix
        self.language = language
        self.tracks: dict[str, str] = {}  # track sid -> speaker identity
        self.captioners: dict[str, SpeakerCaptions] = {}
        self.utterances: dict[str, int] = {}  # speaker -> utterances so far (segment ids)

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

    def _open(self, sid: str) -> None:
        if self.engine is None or not self.available:
            return
        speaker = self.tracks[sid]
        captioner = SpeakerCaptions(speaker, sid, self.engine.open(speaker, self.language), self.emit, self.clock,
                                    prefix=self.prefix)
        captioner.count = self.utterances.get(speaker, 0)
        self.captioners[sid] = captioner

    def _close(self, sid: str) -> None:
        captioner = self.captioners.pop(sid, None)
        if captioner is not None:
            self.utterances[captioner.speaker] = max(self.utterances.get(captioner.speaker, 0), captioner.count)

"""Live captions (issue 14, first part): per stage speaker, voice activity detection, a speech
engine behind a port, and publishing the words the way LiveKit clients expect: text streams on
``lk.transcription`` sent as the speaker (``sender_identity``) with ``lk.transcribed_track_id``,
``lk.segment_id`` and ``lk.transcription_final``; final segments also go to the API.

Engines: ``scripted`` (a fake that "hears" the next line of a script for each voiced utterance,
for fast tests of the whole path). The embedded offline engine and AWS Transcribe are not built yet.
"""
from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

RATE = 48_000
TOPIC = "lk.transcription"


@dataclass
class Hypothesis:
    text: str
    final: bool


class Recognizer(Protocol):
    def accept(self, pcm: np.ndarray) -> list[Hypothesis]:
        """Voiced audio of the current utterance; interim hypotheses so far."""

    def finish(self) -> Hypothesis | None:
        """The utterance ended: its final words (``None`` when nothing was heard)."""


class SpeechEngine(Protocol):
    name: str

    def supports(self, language: str) -> bool: ...

    def open(self, speaker: str, language: str) -> Recognizer: ...


@dataclass
class ScriptedRecognizer:
    lines: list[str]
    words_per_second: float = 5.0
    heard: float = 0.0
    said: int = 0

    def accept(self, pcm: np.ndarray) -> list[Hypothesis]:
        if not self.lines:
            return []
        self.heard += pcm.size / RATE
        words = self.lines[0].split()
        n = min(len(words), int(self.heard * self.words_per_second))
        if n > self.said:
            self.said = n
            return [Hypothesis(" ".join(words[:n]), final=False)]
        return []

    def finish(self) -> Hypothesis | None:
        self.heard, self.said = 0.0, 0
        return Hypothesis(self.lines.pop(0), final=True) if self.lines else None


@dataclass
class ScriptedEngine:
    """``{speaker identity: [lines...]}``: each voiced utterance of a speaker is heard as their next line."""

    script: dict[str, list[str]] = field(default_factory=dict)
    name: str = "scripted"

    @classmethod
    def from_env(cls) -> ScriptedEngine:
        return cls({k: list(v) for k, v in json.loads(os.environ.get("AIRWAVES_STT_SCRIPT", "{}")).items()})

    def supports(self, language: str) -> bool:
        return True

    def open(self, speaker: str, language: str) -> Recognizer:
        return ScriptedRecognizer(self.script.setdefault(speaker, []))


def engine_from_env() -> SpeechEngine | None:
    name = os.environ.get("AIRWAVES_STT_ENGINE", "")
    if name == "scripted":
        return ScriptedEngine.from_env()
    return None


class EnergyVad:
    """Voiced while 20 ms frames are louder than ``threshold`` RMS; an utterance ends after
    ``hangover`` seconds below it. Silent speakers never reach the engine."""

    def __init__(self, threshold: float = 300.0, hangover: float = 0.4) -> None:
        self.threshold = threshold
        self.hangover = int(hangover * RATE)
        self.voiced = False
        self.quiet = 0

    def update(self, pcm: np.ndarray) -> tuple[bool, bool]:
        """(speech in this chunk, the utterance just ended)."""
        loud = pcm.size > 0 and float(np.sqrt(np.mean(pcm.astype(np.float64) ** 2))) > self.threshold
        if loud:
            self.voiced, self.quiet = True, 0
            return True, False
        if self.voiced:
            self.quiet += pcm.size
            if self.quiet >= self.hangover:
                self.voiced = False
                return False, True
            return True, False  # a short pause inside the utterance
        return False, False


@dataclass
class Caption:
    speaker: str
    track_sid: str
    segment_id: str
    text: str
    final: bool
    start: float
    end: float


class SpeakerCaptions:
    """One stage speaker's track: VAD, recognizer, caption events (``emit``)."""

    def __init__(self, speaker: str, track_sid: str, recognizer: Recognizer, emit: Callable[[Caption], None],
                 clock: Callable[[], float], prefix: str) -> None:
        self.speaker = speaker
        self.track_sid = track_sid
        self.recognizer = recognizer
        self.emit = emit
        self.clock = clock
        self.prefix = prefix
        self.vad = EnergyVad()
        self.count = 0
        self.start = 0.0

    def push(self, pcm: np.ndarray) -> None:
        was = self.vad.voiced
        speech, ended = self.vad.update(pcm)
        if speech and not was:
            self.count += 1
            self.start = self.clock()
        if speech:
            for h in self.recognizer.accept(pcm):
                self.emit(self._caption(h))
        if ended:
            final = self.recognizer.finish()
            if final is not None:
                self.emit(self._caption(final))

    def _caption(self, h: Hypothesis) -> Caption:
        return Caption(self.speaker, self.track_sid, f"{self.prefix}-{self.speaker}-{self.count}", h.text, h.final,
                       round(self.start, 3), round(self.clock(), 3))

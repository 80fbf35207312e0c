"""The embedded caption engine (pocketsphinx, bundled en-us model) on espeak-ng speech: fixed
sentences, the worker's 48 kHz 20 ms frames, word error rate against the script. No LiveKit.

Measured (pocketsphinx 5.1.1, espeak-ng ``-v en-us+m3 -s 140 -g 5``): mean WER 0.72 against the
right sentences, about 1.0 against the wrong ones. Synthetic speech is far from what the bundled
model was trained on, so the bound is loose; it still fails if the audio reaches the model at the
wrong rate or format (WER about 1.0) or the engine stops hearing.
"""
from __future__ import annotations

import os

import pytest

from airwaves_media.captions import EmbeddedEngine, ScriptedEngine, engine_from_env
from tests.media.speech import SENTENCES, espeak, speak, transcribe, wer

BOUND = 0.85


@pytest.fixture(scope="module")
def heard() -> list:
    if espeak() is None:
        if os.environ.get("CI") == "true":
            pytest.fail("espeak-ng is missing (apt-get install espeak-ng)")
        pytest.skip("espeak-ng is missing")
    engine = EmbeddedEngine()
    return [transcribe(engine, s, speak(s)) for s in SENTENCES]


def test_wer_is_below_the_bound_and_wrong_references_score_high(heard: list) -> None:
    right = sum(h.wer for h in heard) / len(heard)
    shifted = [SENTENCES[(i + 1) % len(SENTENCES)] for i in range(len(SENTENCES))]
    wrong = sum(wer(ref, h.text) for ref, h in zip(shifted, heard, strict=True)) / len(heard)
    assert all(h.text for h in heard), [h.text for h in heard]
    assert right < BOUND, [(h.reference, h.text, h.wer) for h in heard]
    assert wrong > 0.9, wrong
    assert wrong - right > 0.15, (right, wrong)


def test_wer_counts_substitutions_deletions_insertions() -> None:
    assert wer("a b c d", "a b c d") == 0.0
    assert wer("a b c d", "a x c") == 0.5
    assert wer("a b", "a b c d") == 1.0
    assert wer("a b", "") == 1.0


def test_embedded_does_english_only_and_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = EmbeddedEngine()
    assert engine.supports("en") and engine.supports("en-US") and engine.supports("en_GB")
    assert not engine.supports("es") and not engine.supports("de-DE")
    monkeypatch.delenv("AIRWAVES_STT_ENGINE", raising=False)
    assert isinstance(engine_from_env(), EmbeddedEngine)
    monkeypatch.setenv("AIRWAVES_STT_ENGINE", "scripted")
    assert isinstance(engine_from_env(), ScriptedEngine)
    monkeypatch.setenv("AIRWAVES_STT_ENGINE", "none")
    assert engine_from_env() is None
    monkeypatch.setenv("AIRWAVES_STT_ENGINE", "whisper")
    with pytest.raises(ValueError):
        engine_from_env()


def test_silence_is_not_heard_as_words() -> None:
    import numpy as np

    recognizer = EmbeddedEngine().open("speaker", "en")
    for _ in range(50):
        recognizer.accept(np.zeros(960, dtype=np.int16))
    final = recognizer.finish()
    assert final is None or len(final.text.split()) <= 1
    assert EmbeddedEngine().open("speaker", "en").finish() is None

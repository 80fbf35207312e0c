"""The embedded caption engines on espeak-ng speech: fixed sentences, the worker's 48 kHz 20 ms
frames, word error rate against the script (case and punctuation ignored). No LiveKit.

Measured (espeak-ng ``-v en-us+m3 -s 140 -g 5``, the five sentences of ``speech.py``):
- ``embedded`` (Whisper tiny.en, int8 on CTranslate2): mean WER 0.09 (its only misses: "light"
  for "lights", "9" for "nine", "out" for "now"); about 1.1 against the wrong sentences.
- ``pocketsphinx`` (5.1.1, bundled en-us): mean WER 0.72; about 1.1 against the wrong ones.
Synthetic speech is far from what pocketsphinx's model was trained on, so its bound is loose; both
still fail if the audio reaches the model at the wrong rate or format (WER about 1.0) or the
engine stops hearing.
"""
from __future__ import annotations

import pytest

from airwaves_media.captions import PocketsphinxEngine, ScriptedEngine, SpeechEngine, engine_from_env
from airwaves_media.whisper_stt import WhisperEngine
from tests.media.speech import SENTENCES, espeak, speak, transcribe, wer
from tests.real_servers import unavailable

ENGINES: dict[str, tuple[type[SpeechEngine], float]] = {  # name -> (engine, mean WER bound)
    "embedded": (WhisperEngine, 0.3),
    "pocketsphinx": (PocketsphinxEngine, 0.85),
}


@pytest.fixture(scope="module", params=sorted(ENGINES))
def heard(request: pytest.FixtureRequest) -> tuple[list, float]:
    if espeak() is None:
        unavailable("espeak-ng", "apt-get install espeak-ng")
    make, bound = ENGINES[request.param]
    engine = make()
    return [transcribe(engine, s, speak(s)) for s in SENTENCES], bound


def test_wer_is_below_the_bound_and_wrong_references_score_high(heard: tuple[list, float]) -> None:
    heard, bound = heard
    right = sum(h.wer for h in heard) / len(heard)
    shifted = [SENTENCES[(i + 1) % len(SENTENCES)] for i in range(len(SENTENCES))]
    wrong = sum(wer(ref, h.text) for ref, h in zip(shifted, heard, strict=True)) / len(heard)
    assert all(h.text for h in heard), [h.text for h in heard]
    assert right < bound, [(h.reference, h.text, h.wer) for h in heard]
    assert wrong > 0.9, wrong
    assert wrong - right > 0.15, (right, wrong)


def test_wer_counts_substitutions_deletions_insertions() -> None:
    assert wer("a b c d", "a b c d") == 0.0
    assert wer("a b c d", "a x c") == 0.5
    assert wer("a b", "a b c d") == 1.0
    assert wer("a b", "") == 1.0
    assert wer("hello everyone", "Hello, everyone.") == 0.0


@pytest.mark.parametrize("make", [WhisperEngine, PocketsphinxEngine])
def test_embedded_engines_do_english_only(make: type[SpeechEngine]) -> None:
    engine = make()
    assert engine.supports("en") and engine.supports("en-US") and engine.supports("en_GB")
    assert not engine.supports("es") and not engine.supports("de-DE")


def test_whisper_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRWAVES_STT_ENGINE", raising=False)
    assert isinstance(engine_from_env(), WhisperEngine)
    monkeypatch.setenv("AIRWAVES_STT_ENGINE", "embedded")
    assert isinstance(engine_from_env(), WhisperEngine)
    monkeypatch.setenv("AIRWAVES_STT_ENGINE", "pocketsphinx")
    assert isinstance(engine_from_env(), PocketsphinxEngine)
    monkeypatch.setenv("AIRWAVES_STT_ENGINE", "scripted")
    assert isinstance(engine_from_env(), ScriptedEngine)
    monkeypatch.setenv("AIRWAVES_STT_ENGINE", "none")
    assert engine_from_env() is None
    monkeypatch.setenv("AIRWAVES_STT_ENGINE", "whisper")
    with pytest.raises(ValueError):
        engine_from_env()


@pytest.mark.parametrize("make", [WhisperEngine, PocketsphinxEngine])
def test_silence_is_not_heard_as_words(make: type[SpeechEngine]) -> None:
    import numpy as np

    recognizer = make().open("speaker", "en")
    for _ in range(150):  # 3 s: the whisper recognizer decodes an interim on the way
        recognizer.accept(np.zeros(960, dtype=np.int16))
    final = recognizer.finish()
    assert final is None or len(final.text.split()) <= 1
    assert make().open("speaker", "en").finish() is None


def test_an_utterance_that_never_pauses_is_cut_into_finals() -> None:
    import numpy as np

    from airwaves_media.captions import EnergyVad

    vad = EnergyVad(longest=1.0)
    loud = np.full(960, 3000, dtype=np.int16)
    ends = [vad.update(loud) for _ in range(120)]  # 2.4 s of speech without a pause
    assert [i for i, (_speech, ended) in enumerate(ends) if ended] == [49, 99]
    assert all(speech for speech, _ended in ends)

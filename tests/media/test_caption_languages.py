"""Captions follow the Space's language (issue 14), with the scripted engine and no LiveKit: an
engine that cannot do the language publishes nothing (not wrong words), a language change while
live reopens the stage's captioners without repeating a segment id, and the worker tells the API
its engine and languages."""
from __future__ import annotations

import asyncio

import numpy as np
import pytest

from airwaves_media.api_client import MediaApi
from airwaves_media.captions import Caption, ScriptedEngine, engine_from_env
from airwaves_media.session import Session
from airwaves_media.stage_captions import StageCaptions
from airwaves_media.whisper_stt import WhisperEngine as EmbeddedEngine
from tests.media.test_media_units import tone


def voiced(seconds: float = 1.0) -> list[np.ndarray]:
    pcm = tone(440, seconds)
    return [pcm[i:i + 480] for i in range(0, pcm.size, 480)]


def say(stage: StageCaptions, sid: str) -> None:
    """One utterance on ``sid``: a second of tone, then the VAD's hangover of silence."""
    for chunk in voiced():
        stage.push(sid, chunk)
    for _ in range(50):
        stage.push(sid, np.zeros(480, dtype=np.int16))


def stage_of(engine: ScriptedEngine | None, language: str) -> tuple[StageCaptions, list[Caption]]:
    got: list[Caption] = []
    stage = StageCaptions(engine, got.append, lambda: 0.0, prefix="sp_1", language=language)
    return stage, got


def english_only(script: dict[str, list[str]]) -> ScriptedEngine:
    return ScriptedEngine(script, languages=frozenset({"en"}))


def test_a_language_the_engine_cannot_do_gets_no_captions():
    stage, got = stage_of(english_only({"ann": ["bonjour tout le monde"]}), "fr-FR")
    stage.add("TR_1", "ann")
    say(stage, "TR_1")
    assert got == [] and not stage.available and stage.captioners == {}


def test_an_engine_serves_every_variant_of_its_language():
    stage, got = stage_of(english_only({"ann": ["good morning"]}), "en-GB")
    stage.add("TR_1", "ann")
    say(stage, "TR_1")
    assert [(c.text, c.speaker) for c in got if c.final] == [("good morning", "ann")]


def test_a_language_change_while_live_reopens_the_stage_and_never_repeats_a_segment_id():
    engine = english_only({"ann": ["one", "two", "three"], "bob": ["hi"]})
    stage, got = stage_of(engine, "en")
    stage.add("TR_1", "ann")
    stage.add("TR_2", "bob")
    say(stage, "TR_1")
    stage.set_language("de")  # the engine cannot: nothing while it is German
    say(stage, "TR_1")
    say(stage, "TR_2")
    assert [c.text for c in got if c.final] == ["one"]
    stage.set_language("en-US")
    say(stage, "TR_1")
    say(stage, "TR_2")
    finals = [c for c in got if c.final]
    assert [(c.speaker, c.text) for c in finals] == [("ann", "one"), ("ann", "two"), ("bob", "hi")]
    ids = [c.segment_id for c in finals]
    assert len(set(ids)) == len(ids) == 3 and ids[:2] == ["sp_1-ann-1", "sp_1-ann-2"]


def test_no_engine_means_no_captions_and_a_removed_track_stops():
    stage, got = stage_of(None, "en")
    stage.add("TR_1", "ann")
    say(stage, "TR_1")
    assert got == [] and not stage.available
    stage, got = stage_of(ScriptedEngine({"ann": ["x", "y"]}), "tlh")  # any language: the scripted default
    stage.add("TR_1", "ann")
    stage.remove("TR_1")
    say(stage, "TR_1")
    assert got == []


def test_the_scripted_engine_can_be_narrowed_to_languages_by_setting(monkeypatch):
    monkeypatch.setenv("AIRWAVES_STT_ENGINE", "scripted")
    monkeypatch.setenv("AIRWAVES_STT_SCRIPT_LANGUAGES", "en,pt-BR")
    engine = engine_from_env()
    assert engine is not None and engine.languages == frozenset({"en", "pt-BR"})
    assert engine.supports("pt-PT") and engine.supports("en-AU") and not engine.supports("es")
    assert EmbeddedEngine().supports("en-US") and not EmbeddedEngine().supports("fr")


@pytest.mark.parametrize("engine, reported", [
    (EmbeddedEngine(), {"engine": "embedded", "languages": ["en"]}),
    (ScriptedEngine({}), {"engine": "scripted", "languages": None}),
    (ScriptedEngine({}, languages=frozenset({"fr-FR", "en"})), {"engine": "scripted", "languages": ["en", "fr-FR"]}),
    (None, {"engine": "none", "languages": []}),
])
def test_the_worker_reports_its_engine_to_the_api(fake_api, tmp_path, engine, reported):
    async def report() -> None:
        api = MediaApi(fake_api.url, fake_api.secret)
        session = Session(None, "sp_1", media_api=api, store=None, livekit=None,  # type: ignore[arg-type]
                          workdir=tmp_path, engine=engine)
        try:
            await session._report_engine()
        finally:
            await api.aclose()

    before = len(fake_api.caption_engines)
    asyncio.run(report())
    assert fake_api.caption_engines[before:] == [reported]

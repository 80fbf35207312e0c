"""Caption rules: which Space languages an engine serves (by primary language), the status a
Space view shows, and the API's cached view of the worker's last engine report."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.domain.captions import CaptionEngine, caption_status
from chalicelib.domain.errors import UpstreamUnavailable, ValidationFailed
from chalicelib.domain.languages import clean_language
from chalicelib.services.captions import CaptionEngines

AT = datetime(2026, 12, 3, tzinfo=UTC)


def engine(languages: list[str] | None, name: str = "embedded") -> CaptionEngine:
    return CaptionEngine(name=name, languages=languages, reported_at=AT)


@pytest.mark.parametrize("languages, language, supported", [
    (["en"], "en", True), (["en"], "en-GB", True), (["en-US", "fr-FR"], "fr-CA", True), (["en-US"], "EN", True),
    (["en"], "fr", False), (["en-US"], "es-US", False), ([], "en", False), (None, "tlh", True),
])
def test_engines_serve_a_language_by_its_primary_subtag(languages, language, supported):
    assert engine(languages).supports(language) is supported


def test_caption_status_says_why_there_are_none():
    assert caption_status(captions=False, language="en", engine=engine(["en"])) == "off"
    assert caption_status(captions=True, language="en", engine=None) == "on"
    assert caption_status(captions=True, language="de", engine=engine(["en"])) == "unsupported_language"
    assert caption_status(captions=True, language="en", engine=engine([], name="none")) == "unavailable"


@pytest.mark.parametrize("tag, canonical", [("en", "en"), ("en_us", "en-US"), ("eng", "en"), ("zh-hant", "zh-Hant")])
def test_languages_are_kept_canonical(tag, canonical):
    assert clean_language(tag) == canonical


@pytest.mark.parametrize("tag", ["english", "xx", "en-", "", "e" * 36, "ü"])
def test_malformed_languages_name_the_field(tag):
    with pytest.raises(ValidationFailed) as err:
        clean_language(tag)
    assert err.value.details[0]["field"] == "language"


class Registry:
    def __init__(self) -> None:
        self.stored: CaptionEngine | None = None
        self.reads = 0
        self.down = False

    def put_engine(self, e: CaptionEngine) -> None:
        self.stored = e

    def engine(self) -> CaptionEngine | None:
        self.reads += 1
        if self.down:
            raise UpstreamUnavailable("the database is busy")
        return self.stored


def test_the_last_report_is_read_once_per_cache_window_and_survives_a_busy_table():
    registry, now = Registry(), [0.0]
    engines = CaptionEngines(registry, cache_seconds=30, clock=lambda: now[0])
    assert engines.current() is None and registry.reads == 1
    registry.stored = engine(["en"])  # another container's worker report
    assert engines.current() is None and registry.reads == 1
    now[0] = 30
    assert engines.current() == registry.stored and registry.reads == 2
    engines.report("transcribe", ["fr-FR", "en-US", "fr-FR"])
    assert registry.stored is not None and registry.stored.languages == ["en-US", "fr-FR"]
    current = engines.current()
    assert current is not None and current.name == "transcribe" and registry.reads == 2
    registry.down, now[0] = True, 61
    still = engines.current()
    assert still is not None and still.name == "transcribe"

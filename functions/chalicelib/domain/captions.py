"""Which languages the media worker's caption engine can transcribe, and what that means for a
Space: a Space whose language the engine cannot do gets no captions (the worker publishes none
rather than wrong words), and its view says so.

Support is by primary language (``pt-BR`` is served by an engine listing ``pt-PT`` or ``pt``): the
worker's engines map a Space's tag onto the nearest variant they have, with the same rule.
"""
from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from chalicelib.domain.languages import primary_language

CaptionStatus = Literal["on", "off", "unsupported_language", "unavailable"]


class CaptionEngine(BaseModel):
    """What the worker last reported: its engine and the languages it transcribes (None: any,
    the scripted test engine; empty: none, captions are switched off on the worker)."""

    name: str
    languages: list[str] | None
    reported_at: datetime

    def supports(self, language: str) -> bool:
        if self.languages is None:
            return True
        primary = primary_language(language)
        return any(primary_language(tag) == primary for tag in self.languages)


def caption_status(*, captions: bool, language: str, engine: CaptionEngine | None) -> CaptionStatus:
    """``on`` when captions are on and (as far as the API knows) the engine can do the language;
    before any worker has reported, the API does not claim they are unavailable."""
    if not captions:
        return "off"
    if engine is None:
        return "on"
    if engine.languages == []:
        return "unavailable"
    return "on" if engine.supports(language) else "unsupported_language"

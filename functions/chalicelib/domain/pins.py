"""Pinned content: a short text and/or an http(s) link the host or a co-host pins to a Space.

The Space carries it (``pinned``); clients are told on ``airwaves.pin``. A URL is checked here
(scheme, host, length, no spaces or control characters) and escaped wherever it is rendered.
"""
from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from pydantic import BaseModel

from chalicelib.domain.errors import field_error
from chalicelib.domain.text import clean_line, has_controls

TOPIC_PIN = "airwaves.pin"
PIN_TEXT_MAX = 140
PIN_URL_MAX = 512


class Pin(BaseModel):
    text: str | None = None
    url: str | None = None
    pinned_by: str
    pinned_at: datetime


def clean_pin_text(text: str | None) -> str | None:
    if text is None:
        return None
    if has_controls(text):
        raise field_error("text", "must not contain control characters")
    cleaned = clean_line(text)
    if not 1 <= len(cleaned) <= PIN_TEXT_MAX:
        raise field_error("text", f"must be 1 to {PIN_TEXT_MAX} characters")
    return cleaned


def clean_pin_url(url: str | None) -> str | None:
    if url is None:
        return None
    cleaned = url
    if not cleaned or len(cleaned) > PIN_URL_MAX:
        raise field_error("url", f"must be 1 to {PIN_URL_MAX} characters")
    if not all("!" <= ch <= "~" for ch in cleaned):
        raise field_error("url", "must be printable ASCII without spaces (percent-encode the rest)")
    try:
        parts = urlsplit(cleaned)
        port = parts.port  # raises on a malformed port
    except ValueError as exc:
        raise field_error("url", "is not a URL") from exc
    if parts.scheme.lower() not in ("http", "https"):
        raise field_error("url", "must be an http or https URL")
    if not parts.hostname or "[" in parts.netloc or "@" in parts.netloc or port == 0:
        raise field_error("url", "must name a host (no user name, password or IPv6 literal)")
    return cleaned


def make_pin(text: str | None, url: str | None, *, by: str, now: datetime) -> Pin:
    cleaned_text, cleaned_url = clean_pin_text(text), clean_pin_url(url)
    if cleaned_text is None and cleaned_url is None:
        raise field_error("text", "give a text, a url or both")
    return Pin(text=cleaned_text, url=cleaned_url, pinned_by=by, pinned_at=now)

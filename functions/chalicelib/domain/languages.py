"""A Space's spoken language: a BCP 47 tag (RFC 5646), checked against the IANA subtag registry
and kept in its canonical form (``en_us`` -> ``en-US``, ``eng`` -> ``en``) so engines and clients
compare one spelling.

``langcodes`` carries the registry; it is imported on the first tag checked (it costs ~0.15 s),
so only requests that name a language pay for it, never the cold start.
"""
from __future__ import annotations

from chalicelib.domain.errors import field_error

DEFAULT_LANGUAGE = "en"
LANGUAGE_MAX = 35  # RFC 5646 4.4.1: room for any tag that is not private use


def clean_language(tag: str, field: str = "language") -> str:
    """The canonical form of a well-formed, registered BCP 47 tag; a 400 naming ``field`` otherwise."""
    import langcodes

    raw = tag.strip()
    if not raw or len(raw) > LANGUAGE_MAX or not raw.isascii() or not langcodes.tag_is_valid(raw):
        raise field_error(field, f"'{tag[:LANGUAGE_MAX]}' is not a BCP 47 language tag (e.g. en, en-US, pt-BR, "
                                 "zh-Hant)")
    return str(langcodes.standardize_tag(raw))


def primary_language(tag: str) -> str:
    """The language subtag of a tag (``pt-BR`` -> ``pt``), lower case."""
    return tag.replace("_", "-").split("-", 1)[0].lower()

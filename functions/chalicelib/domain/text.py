"""Free text people type (titles, names, chat): what is kept of it.

Control characters and bidirectional overrides/isolates are removed (they reorder or hide what
others read), other invisible format characters too, except the joiners that emoji sequences and
some scripts need. Text with nothing visible left (only spaces or zero-width characters) is empty.
"""
from __future__ import annotations

import re
import unicodedata

BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_KEPT_FORMAT = frozenset("\u200c\u200d")  # ZWNJ, ZWJ: needed inside emoji sequences and some scripts


def strip_invisible(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` without control, bidi and hidden format characters (tabs and, unless kept,
    newlines become spaces)."""
    out: list[str] = []
    for ch in text:
        if ch in BIDI_CONTROLS:
            continue
        category = unicodedata.category(ch)
        if category == "Cc":
            if ch == "\n" and keep_newlines:
                out.append(ch)
            elif ch in "\t\n\r\v\f":
                out.append(" ")
            continue
        if category in ("Cf", "Co", "Cn", "Cs") and ch not in _KEPT_FORMAT:
            continue
        out.append(ch)
    return "".join(out)


# Something that shows: a letter or digit of any script (not the invisible Hangul fillers), an
# emoji, or a punctuation mark or symbol ("?", "...", "…", "+", "€": people answer with those).
# One expression for the rule and for the OpenAPI document (Python ``re`` syntax).
VISIBLE_PATTERN = (r"[^\W_\u115f\u1160\u3164\uffa0]|[\u2600-\u27bf\U0001f300-\U0001f64f\U0001f680-\U0001f6d7"
                   r"\U0001f900-\U0001f9ff]|[!-/:-@\[-`{-~\u00a1-\u00ac\u00ae-\u00bf\u2010-\u2027\u2030-\u205e"
                   r"\u20a0-\u20c0\u2190-\u23ff\u3001-\u3003\u3008-\u3011\uff01-\uff0f]")
_VISIBLE = re.compile(VISIBLE_PATTERN)
# Refused outright where people read each other (chat, pins), as sent: C0 and C1 controls and the
# bidi controls. Other invisible characters are removed instead.
CONTROLS_PATTERN = r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
CONTROLS_BUT_NEWLINE_PATTERN = r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"


def has_visible(text: str) -> bool:
    """Whether ``text`` shows something: a letter, a digit, an emoji, a punctuation mark or a
    symbol (``VISIBLE_PATTERN``), not only spaces or zero-width characters."""
    return _VISIBLE.search(text) is not None


def has_controls(text: str, *, newlines: bool = False) -> bool:
    """Whether ``text`` holds a control or bidi character (``CONTROLS_PATTERN``; line breaks allowed with ``newlines``)."""
    return re.search(CONTROLS_BUT_NEWLINE_PATTERN if newlines else CONTROLS_PATTERN, text) is not None


def clean_line(text: str) -> str:
    """One line of visible text: invisible characters removed, runs of spaces collapsed;
    empty when nothing visible is left."""
    cleaned = " ".join(strip_invisible(text).split())
    return cleaned if has_visible(cleaned) else ""

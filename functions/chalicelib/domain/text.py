"""Free text people type (titles, names, chat): what is kept of it.

Control characters and bidirectional overrides/isolates are removed (they reorder or hide what
others read), other invisible format characters too, except the joiners that emoji sequences and
some scripts need. Text with nothing visible left (only spaces or zero-width characters) is empty.
"""
from __future__ import annotations

import unicodedata

BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_KEPT_FORMAT = frozenset("\u200c\u200d")  # ZWNJ, ZWJ: needed inside emoji sequences and some scripts
_INVISIBLE = frozenset("\u200b\u200c\u200d\u2060\ufeff\u180e\u3164\u115f\u1160\uffa0\u2800")


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


def has_visible(text: str) -> bool:
    """Whether anything in ``text`` would show: not only spaces and zero-width characters."""
    return any(not ch.isspace() and ch not in _INVISIBLE and unicodedata.category(ch) not in ("Mn", "Me", "Cf")
               for ch in text)


def clean_line(text: str) -> str:
    """One line of visible text: invisible characters removed, runs of spaces collapsed;
    empty when nothing visible is left."""
    cleaned = " ".join(strip_invisible(text).split())
    return cleaned if has_visible(cleaned) else ""

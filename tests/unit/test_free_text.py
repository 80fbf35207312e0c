"""Free text: control characters, bidi overrides and zero-width-only text never reach others."""
from __future__ import annotations

import pytest

from chalicelib.domain.errors import ValidationFailed
from chalicelib.domain.spaces import clean_title
from chalicelib.domain.text import clean_line


@pytest.mark.parametrize("raw, kept", [
    ("Hello\u202eworld", "Helloworld"),             # right-to-left override
    ("a\u2066b\u2069c", "abc"),                      # isolates
    ("Tab\there\nnew\x00line\x1b[31m", "Tab here newline[31m"),
    ("  many   spaces  ", "many spaces"),
    ("zero\u200bwidth\ufeff", "zerowidth"),
    ("family 👨\u200d👩\u200d👧", "family 👨\u200d👩\u200d👧"),  # ZWJ inside emoji is kept
    ("\u200b\u200b\u200b", ""), ("\u202e \u200d ", ""), ("\u3164\u3164", ""),
])
def test_clean_line(raw, kept):
    assert clean_line(raw) == kept


@pytest.mark.parametrize("raw", ["\u200b", "\u202e\u202d", " \u2060 ", "\x00\x01"])
def test_a_title_with_nothing_visible_is_refused(raw):
    with pytest.raises(ValidationFailed):
        clean_title(raw)


def test_a_title_keeps_its_visible_text_only():
    assert clean_title("Live \u202egnissim\u202c talk\x07") == "Live gnissim talk"


@pytest.mark.parametrize("raw", ["?", "...", "…", "!!!", "¿", "€5", "—", "👏"])
def test_punctuation_and_symbols_alone_are_visible_text(raw):
    """People answer "?" or "…" in a room: those are kept, as letters, digits and emoji are."""
    assert clean_line(raw) == raw

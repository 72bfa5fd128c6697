"""Text normalisation: what a voice is given must be plain, predictable, speakable text.

Rules (applied in this order by `normalize_text`):

1. Unicode NFC, so a letter plus combining accent and the precomposed letter hash the same.
2. Dashes. An en dash between digits is a range and becomes a hyphen ("10–12" → "10-12").
   Every other em dash, en dash, horizontal bar, or ASCII double hyphen ("--") marks a pause,
   so it becomes ", " ("He said—no" → "He said, no"). Voices pause on a comma, while a bare
   dash is either ignored or read out. A comma that would sit next to other punctuation, at
   the start of the text, or just inside a closing quote is dropped instead.
3. Curly and angle quotes become straight ' and "; the ellipsis character becomes "...".
4. Non-breaking and other odd spaces, tabs and line breaks become a plain space.
5. Zero-width characters, the soft hyphen, bidi marks and other format/control characters
   are removed.
6. Runs of whitespace collapse to one space; the result is stripped.
"""

from __future__ import annotations

import re
import unicodedata

_DIGIT_RANGE = re.compile(r"(?<=\d)[\u2012\u2013](?=\d)")
# Em dash, en dash, figure dash, horizontal bar, two-em/three-em dashes, and ASCII "--".
_PAUSE_DASH = re.compile(r"\s*(?:[\u2012\u2013\u2014\u2015\u2E3A\u2E3B]+|-{2,})\s*")
_OPENING_PUNCT_COMMA = re.compile(r"([,.;:!?])\s*,\s*")
_COMMA_BEFORE_PUNCT = re.compile(r",\s*([,.;:!?)\]\u201d\u2019])")
_LEADING_COMMA = re.compile(r"(^|[\u201c\u2018(\[])\s*,\s*")

_TRANSLATE = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u2039": '"',
        "\u203a": '"',
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u201f": '"',
        "\u2033": '"',
        "\u00ab": '"',
        "\u00bb": '"',
        "\u2026": "...",
        "\u2212": "-",  # minus sign
        "\u2010": "-",  # hyphen
        "\u2011": "-",  # non-breaking hyphen
    }
)

_REMOVE = {"\u00ad", "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u180e"}
_WHITESPACE = re.compile(r"\s+")


def _strip_invisible(text: str) -> str:
    """Spaces of any kind become ' '; format (Cf), control (Cc) and surrogate (Cs) chars go.

    Unassigned code points are kept: newer emoji than this Python's Unicode tables pass through.
    """
    out = []
    for char in text:
        if char in _REMOVE:
            continue
        if char.isspace():
            out.append(" ")
            continue
        if unicodedata.category(char) in ("Cc", "Cf", "Cs"):
            continue
        out.append(char)
    return "".join(out)


def _replace_dashes(text: str) -> str:
    text = _DIGIT_RANGE.sub("-", text)
    if not _PAUSE_DASH.search(text):
        return text
    end = len(text)

    def pause(match: re.Match[str]) -> str:
        # A dash that opens or closes the whole text is a dialogue mark, not a pause.
        if match.start() == 0 or match.end() == end:
            return " "
        return ", "

    text = _PAUSE_DASH.sub(pause, text)
    text = _OPENING_PUNCT_COMMA.sub(r"\1 ", text)
    text = _COMMA_BEFORE_PUNCT.sub(r"\1", text)
    return _LEADING_COMMA.sub(r"\1", text)


def normalize_text(text: str) -> str:
    """Make text safe to speak and to hash; see the module docstring for the exact rules."""
    text = unicodedata.normalize("NFC", text)
    text = _strip_invisible(text)
    text = _replace_dashes(text)
    text = text.translate(_TRANSLATE)
    return _WHITESPACE.sub(" ", text).strip()

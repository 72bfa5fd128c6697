"""Normalisation and sentence segmentation: tricky sentences, limits, Unicode, and a property."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voxflow.segmenter import split_sentences
from voxflow.text import normalize_text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            "\u201cHello,\u201d she said. It\u2019s \u2018fine\u2019.",
            "\"Hello,\" she said. It's 'fine'.",
        ),
        ("He said\u2014no.", "He said, no."),
        ("He said \u2014 no.", "He said, no."),
        ("I was--well, never mind.", "I was, well, never mind."),
        ("\u201cWell\u2014\u201d she began.", '"Well" she began.'),
        ("\u2014Hello, there.", "Hello, there."),
        ("pages 10\u201312, 1990\u20132000", "pages 10-12, 1990-2000"),
        ("Wait\u2026 what?", "Wait... what?"),
        ("a\u00a0b\u202fc\u2009d\u3000e", "a b c d e"),
        ("zero\u200bwidth\u200d joiner\ufeff soft\u00adhyphen", "zerowidth joiner softhyphen"),
        ("bell\x07 and \x1b escape", "bell and escape"),
        ("  many   spaces\n\nand\tlines  ", "many spaces and lines"),
        ("cafe\u0301", "caf\u00e9"),
        ("\u200e\u202eleft to right\u202c", "left to right"),
    ],
)
def test_normalize_text(raw: str, expected: str) -> None:
    assert normalize_text(raw) == expected


def test_normalize_keeps_cjk_and_emoji() -> None:
    text = "日本語のテキスト。 Emoji 😀 and 🦜 stay."
    assert normalize_text(text) == text


def test_normalize_is_idempotent_on_messy_text() -> None:
    text = "\u201cWell\u2014\u201d he said \u2014 \u2018no\u2019\u2026  \u00a0ok--fine"
    once = normalize_text(text)
    assert normalize_text(once) == once


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Dr. Smith went to Washington. He met Mr. Jones there.",
            ["Dr. Smith went to Washington.", "He met Mr. Jones there."],
        ),
        (
            "The U.S. economy grew fast. Prices rose too.",
            ["The U.S. economy grew fast.", "Prices rose too."],
        ),
        (
            "Bring fruit, e.g. apples or pears. Then rest.",
            ["Bring fruit, e.g. apples or pears.", "Then rest."],
        ),
        (
            "Pi is about 3.14 today. It was 3.14 yesterday.",
            ["Pi is about 3.14 today.", "It was 3.14 yesterday."],
        ),
        (
            "J. R. R. Tolkien wrote The Hobbit. It was published in 1937.",
            ["J. R. R. Tolkien wrote The Hobbit.", "It was published in 1937."],
        ),
        ('"Wait..." she said. Then she left.', ['"Wait..." she said.', "Then she left."]),
        (
            '"Really?" he asked. "Yes!" she cried.',
            ['"Really?" he asked.', '"Yes!" she cried.'],
        ),
        (
            "He whispered, \"She told me 'never again.' I believed her.\" Then silence.",
            ["He whispered, \"She told me 'never again.' I believed her.\"", "Then silence."],
        ),
        ("\u201cHello,\u201d said Ann. \u201cHi.\u201d", ['"Hello," said Ann.', '"Hi."']),
    ],
)
def test_tricky_sentences(text: str, expected: list[str]) -> None:
    assert split_sentences(text, 400) == expected


def test_list_like_text_keeps_every_word() -> None:
    text = "You need three things: 1. a lamp, 2. oil, and 3. matches. That is all."
    segments = split_sentences(text, 400)
    assert " ".join(segments) == text
    assert segments[-1] == "That is all."


def test_empty_and_whitespace_give_no_segments() -> None:
    assert split_sentences("", 100) == []
    assert split_sentences(" \n\t\u00a0\u200b ", 100) == []


def test_max_chars_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_chars"):
        split_sentences("Hello.", 0)


def test_long_sentence_prefers_clause_boundaries() -> None:
    text = (
        "The keeper climbed the stairs; she trimmed the wick and wound the clock, "
        "then she sat down by the lens and watched the dark water for a very long time."
    )
    segments = split_sentences(text, 60)
    assert segments[0] == "The keeper climbed the stairs;"
    assert all(len(s) <= 60 for s in segments)
    assert " ".join(segments) == text


def test_long_sentence_uses_commas_before_spaces() -> None:
    text = "one two three four five six, seven eight nine ten eleven twelve thirteen fourteen."
    segments = split_sentences(text, 40)
    assert segments[0] == "one two three four five six,"
    assert " ".join(segments) == text


def test_long_sentence_without_punctuation_splits_at_spaces_not_inside_words() -> None:
    words = [f"word{i}" for i in range(100)]
    text = " ".join(words)
    segments = split_sentences(text, 50)
    assert all(0 < len(s) <= 50 for s in segments)
    assert [w for s in segments for w in s.split()] == words


def test_word_longer_than_limit_is_its_own_segment() -> None:
    url = "https://example.com/" + "a" * 80
    segments = split_sentences(f"Visit {url} today please.", 30)
    assert url in segments
    assert all(len(s) <= 30 for s in segments if s != url)
    assert " ".join(segments) == f"Visit {url} today please."


def test_text_without_spaces_longer_than_limit_is_kept_whole() -> None:
    text = "日本語のテキストです。" * 10
    assert split_sentences(text, 20) == [text]


def test_unicode_passes_through() -> None:
    text = "Caf\u00e9 na\u0131\u0308ve \u201cquote\u201d\u00a0here. Emoji 🦜 ok! 中文句子。"
    segments = split_sentences(text, 400)
    assert " ".join(segments) == normalize_text(text)
    assert "🦜" in " ".join(segments)


# --- property: segmentation loses, adds and reorders no word ------------------------------

_WORDS = st.sampled_from(
    [
        "the", "keeper", "lamp", "sea", "storm", "light", "Maren", "boat", "said", "it's",
        "Dr.", "Mr.", "Mrs.", "U.S.", "e.g.", "i.e.", "etc.", "3.14", "28.9", "J.", "R.",
        "No.", "vs.", "1990\u20132000", "don\u2019t", "caf\u00e9", "na\u00efve", "🦜", "日本",
        "well\u2014then", "supercalifragilisticexpialidocious",
    ]
)  # fmt: skip
_PUNCT = st.sampled_from(["", "", "", ",", ".", "!", "?", ";", ":", "...", '"', "'", ")"])
_SPACE = st.sampled_from([" ", " ", " ", "  ", "\n", "\u00a0", "\t", " \u2014 "])


@st.composite
def _realistic_text(draw: st.DrawFn) -> str:
    count = draw(st.integers(min_value=0, max_value=80))
    parts = []
    for _ in range(count):
        word = draw(_WORDS)
        if draw(st.booleans()) and draw(st.booleans()):
            word = '"' + word
        parts.append(word + draw(_PUNCT) + draw(_SPACE))
    return "".join(parts)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=_realistic_text(), max_chars=st.integers(min_value=10, max_value=200))
def test_segmentation_preserves_words(text: str, max_chars: int) -> None:
    segments = split_sentences(text, max_chars)
    normalized = normalize_text(text)
    assert " ".join(segments) == normalized
    assert [w for s in segments for w in s.split()] == normalized.split()
    for segment in segments:
        assert segment and segment == segment.strip()
        assert len(segment) <= max_chars or " " not in segment

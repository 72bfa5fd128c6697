"""Word times from a voice's phoneme durations (handlers/voice_common.word_times)."""

from __future__ import annotations

import pytest

from handlers import voice_common
from voxflow import inference

RATE = 1000  # samples per second, so sample counts read as milliseconds


def _phonemes(*words: str, gap: int = 50) -> list[tuple[str, int]]:
    """Each phonemiser word as 100-sample phonemes, words parted by `gap`-sample gaps."""
    out: list[tuple[str, int]] = [("^", 20)]
    for word in words:
        out += [(symbol, 100) for symbol in word] + [(" ", gap)]
    return [*out[:-1], (".", 30), ("$", 10)]


def test_one_to_one_words_take_their_phonemes_time():
    times = voice_common.word_times("Hello, big world.", _phonemes("ab", "c", "def"), RATE)
    assert times == [("Hello,", 0.02, 0.22), ("big", 0.27, 0.37), ("world.", 0.42, 0.72)]


def test_a_number_read_as_several_words_spans_them_all():
    # "in 1891 then": the phonemiser reads the number as four words.
    phonemes = _phonemes("in", "wan", "tauzand", "eit", "handrad", "den")
    times = dict((w, (a, b)) for w, a, b in voice_common.word_times("in 1891 then", phonemes, RATE))
    assert times["in"] == (0.02, 0.22)
    assert times["1891"] == pytest.approx((0.27, 2.42))
    assert times["then"] == pytest.approx((2.47, 2.77))


def test_times_are_ordered_and_cover_every_word_whatever_the_counts():
    text = "Dr. Watson met Mr. and Mrs. Hudson at 221B Baker Street in 1881."
    phonemes = _phonemes("dakta", "watsan", "met", "mista", "and", "misiz", "hadsan", "at")
    times = voice_common.word_times(text, phonemes + _phonemes("tu", "tu", "wan", "bi"), RATE)
    assert [w for w, _, _ in times] == text.split()
    previous_end = 0.0
    for _, start, end in times:
        assert start >= previous_end - 1e-9 and end > start
        previous_end = end


def test_no_words_without_durations():
    assert voice_common.word_times("Hello.", [], RATE) == []
    assert voice_common.word_times("", _phonemes("ab"), RATE) == []


def test_the_kernel_reads_the_header_the_handlers_write():
    assert inference.WORD_TIMES_HEADER == voice_common.HEADER_WORD_TIMES
    assert inference.parse_words('[["Hi", 0.1, 0.3]]') == [("Hi", 0.1, 0.3)]
    assert inference.parse_words("not json") is None
    assert inference.parse_words(None) is None

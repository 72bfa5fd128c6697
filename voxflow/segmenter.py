"""Sentence segmentation: a paragraph becomes the sentences a voice synthesises one at a time.

pysbd finds sentence boundaries (it knows abbreviations, decimals, initials, ellipses and
quoted dialogue). Its output is only used to choose *where* to cut the normalised text:
every cut falls on a space of that text, so `" ".join(split_sentences(t, n)) ==
normalize_text(t)` always holds: no word is lost, added or reordered, whatever pysbd does.

Sentences longer than `max_chars` are cut again at the best clause boundary that fits:
after `;` or `:` first, then after `,`, then at any space, preferring the rightmost
candidate that leaves a first piece of at least a third of the limit. A single word
longer than `max_chars` (a URL, a run of CJK text without spaces) cannot be cut without
breaking it, so it becomes a segment of its own, the only kind allowed over the limit.
"""

from __future__ import annotations

import threading

import pysbd

from voxflow.text import normalize_text

# pysbd.Segmenter keeps per-call state on the instance, so each thread gets its own.
_local = threading.local()

# Clause boundaries in order of preference: the character just before the space.
_CLAUSE_CLASSES: tuple[frozenset[str], ...] = (frozenset(";:"), frozenset(","))
_MIN_FRACTION = 3  # a preferred cut must leave at least max_chars // 3 characters


def _pysbd() -> pysbd.Segmenter:
    segmenter = getattr(_local, "segmenter", None)
    if segmenter is None:
        segmenter = pysbd.Segmenter(language="en", clean=False)
        _local.segmenter = segmenter
    return segmenter


def _sentence_cuts(text: str) -> list[int]:
    """Positions of the spaces in `text` where pysbd ends a sentence."""
    cuts: list[int] = []
    cursor = 0
    for sentence in _pysbd().segment(text):
        piece = sentence.strip()
        if not piece:
            continue
        start = text.find(piece, cursor)
        if start < 0:
            continue  # pysbd altered this piece; its boundary is skipped, nothing is lost
        end = start + len(piece)
        cursor = end
        if end < len(text) and text[end] == " " and (not cuts or cuts[-1] != end):
            cuts.append(end)
    return cuts


def _split_long(sentence: str, max_chars: int) -> list[str]:
    """Cut an over-long sentence at clause boundaries, then spaces, never inside a word."""
    pieces: list[str] = []
    rest = sentence
    while len(rest) > max_chars and " " in rest:
        cut = _best_cut(rest, max_chars)
        pieces.append(rest[:cut])
        rest = rest[cut + 1 :]
    if rest:
        pieces.append(rest)
    return pieces


def _best_cut(text: str, max_chars: int) -> int:
    """Index of the space to cut at; the piece before it fits max_chars when any space allows."""
    spaces = [i for i in range(1, min(len(text), max_chars + 1)) if text[i] == " "]
    floor = max(1, max_chars // _MIN_FRACTION)
    for marks in _CLAUSE_CLASSES:
        fitting = [i for i in spaces if i >= floor and text[i - 1] in marks]
        if fitting:
            return fitting[-1]
    if spaces:
        return spaces[-1]
    # The first word alone is longer than max_chars: it becomes its own segment.
    return text.index(" ")


def split_sentences(text: str, max_chars: int) -> list[str]:
    """Split text into normalised sentences of at most max_chars (see the module docstring)."""
    if max_chars < 1:
        raise ValueError("max_chars must be at least 1")
    normalized = normalize_text(text)
    if not normalized:
        return []
    segments: list[str] = []
    start = 0
    for cut in [*_sentence_cuts(normalized), len(normalized)]:
        sentence = normalized[start:cut]
        start = cut + 1
        if sentence:
            segments.extend(_split_long(sentence, max_chars))
    return segments

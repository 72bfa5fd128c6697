"""Does a segment's audio say its text? Word error rate of what was heard, and a flag rule."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass
from typing import Any

import jiwer

from voxflow.qa.numbers import cardinal, digits, ordinal, roman_value, spoken_integer
from voxflow.qa.recognizer import Recognizer

# The flag rule, calibrated on the joe voice with pocketsphinx over 100 GPL-3 sentences
# (`python bench/qa_calibration.py --sentences 100`; figures in docs/qa.md). pocketsphinx hears
# clean legal prose at a median WER of 0.33 (p90 0.55), so the WER bar is high: above 0.75
# false-flagged 3.0 % of clean sentences and caught 100 % of swapped-in sentences, but only 22 %
# of audio cut to its first half. Cut audio shows instead as a missing tail: at least 3 words
# and 30 % of the text after the last word heard flagged 0 % of clean sentences and caught 92 %
# of halved ones. Together: 3 % false flags, 100 % of swaps, 92 % of cuts; a random 30 % of the
# words dropped is mostly within pocketsphinx's own error on clean audio (caught 6 %). Run again
# with the recogniser's bounded search (MAX_HMMS_PER_FRAME): 2 %, 100 %, 97 % and 8 %.
WER_THRESHOLD = 0.75
TAIL_MISSING_SHARE = 0.30
TAIL_MISSING_MIN_WORDS = 3
# Under SHORT_SEGMENT_WORDS words a WER is too coarse (one word is 25-100 %); such segments are
# flagged only when the recogniser heard none of their words (only 1 of the 100 calibration
# sentences was this short, so this rule rests on reasoning more than on data).
SHORT_SEGMENT_WORDS = 4
# How many missing or added words a reason names before it says "and N more".
REASON_WORDS = 8

ABBREVIATIONS = {
    "dr": "doctor",
    "mr": "mister",
    "mrs": "missus",
    "ms": "miz",
    "st": "saint",
    "vs": "versus",
    "etc": "et cetera",
}
SYMBOLS = {"%": " percent ", "&": " and ", "+": " plus ", "@": " at "}
_ABBREVIATION = re.compile(r"\b(" + "|".join(ABBREVIATIONS) + r")\.(?=\s|$)")
# "No. 5" is "number five", but a sentence ending "... said no." is not.
_NUMBER_SIGN = re.compile(r"\bno\.(?=\s*\d)")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
_ORDINAL = re.compile(r"\b(\d+)(st|nd|rd|th)\b")
_DECIMAL = re.compile(r"\b(\d+)\.(\d+)\b")
_INTEGER = re.compile(r"\d+")
_NOT_WORD = re.compile(r"[^a-z' ]+")
_QUOTE = re.compile(r"(?<![a-z])'|'(?![a-z])")  # quotation marks, not apostrophes in words
_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'"})
# The joe voice (espeak-ng en-us) reads an upper-case Roman numeral of two letters or more as
# "roman" and the number: "Chapter XII" is "chapter roman twelve", a heading "III" "roman three".
# Only numerals under 400 (no D or M): "MIX" and "DID" are words.
_ROMAN_TOKEN = re.compile(r"\b[CLXVI]{2,}\b")


def _spoken_roman(match: re.Match[str]) -> str:
    value = roman_value(match.group())
    return match.group() if value is None else f" roman {cardinal(value)} "


def normalise(text: str, *, years: bool = False, numerals: bool = False) -> str:
    """Text as a string of spoken words, the same for the book's text and the recogniser's:
    lower case, abbreviations and numbers spelt out, punctuation gone; `years` reads four-digit
    numbers such as 1891 as years ("eighteen ninety one") instead of cardinals, and `numerals`
    upper-case Roman numerals as the voice does ("XII" as "roman twelve")."""
    if numerals:
        text = _ROMAN_TOKEN.sub(_spoken_roman, text)
    text = unicodedata.normalize("NFKD", text.translate(_APOSTROPHES).lower())
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = _NUMBER_SIGN.sub("number", text)
    text = _ABBREVIATION.sub(lambda m: ABBREVIATIONS[m.group(1)], text)
    for symbol, spoken in SYMBOLS.items():
        text = text.replace(symbol, spoken)
    text = _THOUSANDS.sub("", text)
    text = _ORDINAL.sub(lambda m: f" {ordinal(int(m.group(1)))} ", text)
    text = _DECIMAL.sub(lambda m: f" {cardinal(int(m.group(1)))} point {digits(m.group(2))} ", text)
    text = _INTEGER.sub(lambda m: f" {spoken_integer(m.group(), years=years)} ", text)
    text = _NOT_WORD.sub(" ", text)
    text = _QUOTE.sub(" ", text)
    return " ".join(text.split())


@dataclass(frozen=True, slots=True)
class Comparison:
    """The word-level alignment of what was expected with what was heard."""

    words: int  # in the expected text, after normalising
    wer: float
    missing: tuple[str, ...]  # expected words not heard (deleted or substituted)
    added: tuple[str, ...]  # heard words not expected (inserted or substituted)
    missing_tail: int = 0  # expected words after the last one heard (audio cut short)


def compare(expected: str, heard: str) -> Comparison:
    """Word error rate and the missing and added words, after normalising both texts; a text
    with years or Roman numerals is compared in each reading (cardinal or year, letters or
    numeral) and the closest one counts."""
    hypothesis = normalise(heard).split()
    readings = {
        normalise(expected),
        normalise(expected, years=True),
        normalise(expected, numerals=True),
    }
    return min((_aligned(r.split(), hypothesis) for r in sorted(readings)), key=lambda c: c.wer)


def _aligned(reference: list[str], hypothesis: list[str]) -> Comparison:
    """The word-level Levenshtein alignment (jiwer) of two normalised word lists."""
    if not reference:
        return Comparison(0, float(len(hypothesis)), (), tuple(hypothesis))
    if not hypothesis:
        return Comparison(len(reference), 1.0, tuple(reference), (), len(reference))
    output = jiwer.process_words(" ".join(reference), " ".join(hypothesis))
    missing: list[str] = []
    added: list[str] = []
    heard_until = 0  # end of the last run of expected words that were heard
    for chunk in output.alignments[0]:
        if chunk.type == "equal":
            heard_until = chunk.ref_end_idx
        if chunk.type in ("delete", "substitute"):
            missing += reference[chunk.ref_start_idx : chunk.ref_end_idx]
        if chunk.type in ("insert", "substitute"):
            added += hypothesis[chunk.hyp_start_idx : chunk.hyp_end_idx]
    return Comparison(
        len(reference),
        float(output.wer),
        tuple(missing),
        tuple(added),
        len(reference) - heard_until,
    )


def flag_reason(comparison: Comparison) -> str:
    """Why a segment needs listening to, or "" when its audio reads as its text."""
    if comparison.words == 0:
        return ""  # nothing to say (a segment of punctuation); nothing can be missing
    if comparison.words < SHORT_SEGMENT_WORDS:
        if len(comparison.missing) < comparison.words:
            return ""
        rule = f"none of its {comparison.words} words heard"
    elif comparison.wer > WER_THRESHOLD:
        rule = f"WER {comparison.wer:.2f} > {WER_THRESHOLD:.2f}"
    elif comparison.missing_tail >= max(
        TAIL_MISSING_MIN_WORDS, TAIL_MISSING_SHARE * comparison.words
    ):
        rule = f"last {comparison.missing_tail} of {comparison.words} words not heard (cut short?)"
    else:
        return ""
    parts = [rule]
    if comparison.missing:
        parts.append(f"missing words: {_listed(comparison.missing)}")
    if comparison.added:
        parts.append(f"added words: {_listed(comparison.added)}")
    return "; ".join(parts)


def _listed(words: tuple[str, ...]) -> str:
    """Words for a reason, the first few named and the rest counted."""
    named = ", ".join(words[:REASON_WORDS])
    rest = len(words) - REASON_WORDS
    return f"{named} and {rest} more" if rest > 0 else named


@dataclass(frozen=True, slots=True)
class SegmentScore:
    """One segment's QA verdict: what was heard, how far it is from the text, and why flagged."""

    index: int
    expected: str
    heard: str
    wer: float
    missing: tuple[str, ...]
    added: tuple[str, ...]
    flagged: bool
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable (tuples become lists)."""
        data = asdict(self)
        data["missing"], data["added"] = list(self.missing), list(self.added)
        return data


def score_segment(index: int, expected: str, heard: str) -> SegmentScore:
    """Score a transcript against the segment's text and apply the flag rule."""
    comparison = compare(expected, heard)
    reason = flag_reason(comparison)
    return SegmentScore(
        index=index,
        expected=expected,
        heard=heard,
        wer=comparison.wer,
        missing=comparison.missing,
        added=comparison.added,
        flagged=bool(reason),
        reason=reason,
    )


def check_segment(
    index: int, expected: str, wav_bytes: bytes, recognizer: Recognizer
) -> SegmentScore:
    """Transcribe a segment's audio and score it against its text."""
    return score_segment(index, expected, recognizer.transcribe(wav_bytes))

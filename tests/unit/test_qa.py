"""Speech QA kernel: normalising, word alignment, the flag rule and the reports."""

from __future__ import annotations

import io
import json
import wave

import numpy as np
import pytest

from voxflow.qa import numbers
from voxflow.qa.recognizer import ASR_SAMPLE_RATE, Recognizer, asr_pcm, read_wav
from voxflow.qa.report import ChapterScores, book_report, distribution, render_html
from voxflow.qa.scoring import (
    REASON_WORDS,
    SHORT_SEGMENT_WORDS,
    WER_THRESHOLD,
    check_segment,
    compare,
    normalise,
    score_segment,
)


@pytest.mark.parametrize(
    ("number", "words"),
    [
        (0, "zero"),
        (13, "thirteen"),
        (40, "forty"),
        (99, "ninety nine"),
        (105, "one hundred five"),
        (2007, "two thousand seven"),
        (9999, "nine thousand nine hundred ninety nine"),
        (1_000_000, "one million"),
    ],
)
def test_cardinal(number: int, words: str) -> None:
    assert numbers.cardinal(number) == words


@pytest.mark.parametrize(
    ("number", "words"),
    [
        (1891, "eighteen ninety one"),
        (1900, "nineteen hundred"),
        (1905, "nineteen oh five"),
        (2024, "twenty twenty four"),
        (2005, "two thousand five"),
    ],
)
def test_year(number: int, words: str) -> None:
    assert numbers.year(number) == words


@pytest.mark.parametrize(
    ("number", "words"),
    [(1, "first"), (2, "second"), (3, "third"), (12, "twelfth"), (20, "twentieth"),
     (21, "twenty first"), (100, "one hundredth")],
)  # fmt: skip
def test_ordinal(number: int, words: str) -> None:
    assert numbers.ordinal(number) == words


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        (
            "In 1891, Dr. Watson met Mr. Holmes.",
            "in one thousand eight hundred ninety one doctor watson met mister holmes",
        ),
        ("Mrs. Hudson lived on St. James's Street!", "missus hudson lived on saint james's street"),
        (
            "It’s 10,000 — “well-known” — 3.5 % of the 21st.",
            "it's ten thousand well known three point five percent of the twenty first",
        ),
        (
            "Version 3 of the GNU GPL (section 007)",
            "version three of the gnu gpl section zero zero seven",
        ),
        ("'Quoted,' she said; don't.", "quoted she said don't"),
        ("Café naïve", "cafe naive"),
        ("...", ""),
    ],
)
def test_normalise(text: str, spoken: str) -> None:
    assert normalise(text) == spoken


def test_normalise_reads_years_on_request() -> None:
    assert (
        normalise("In 1891, or 2007.", years=True) == "in eighteen ninety one or two thousand seven"
    )


@pytest.mark.parametrize(
    "heard", ["doctor who nineteen eighty four", "doctor who one thousand nine hundred eighty four"]
)
def test_a_year_matches_either_reading(heard: str) -> None:
    """The book writes digits, the recogniser words; a voice may say a year either way."""
    result = compare("Dr. Who, 1984", heard)
    assert (result.wer, result.missing, result.added) == (0.0, (), ())


@pytest.mark.parametrize(
    ("token", "value"),
    [("II", 2), ("XIV", 14), ("MCMXCIX", 1999), ("IIII", None), ("MIXED", None), ("xiv", None)],
)
def test_roman_value_reads_only_canonical_numerals(token: str, value: int | None) -> None:
    assert numbers.roman_value(token) == value


def test_normalise_reads_roman_numerals_as_the_voice_does_on_request() -> None:
    assert normalise("Chapter XII: MIX it, I said.", numerals=True) == (
        "chapter roman twelve mix it i said"
    )
    assert normalise("Chapter XII") == "chapter xii"


@pytest.mark.parametrize(("text", "heard"), [("III", "roman three"), ("Louis XIV.", "louis xiv")])
def test_a_roman_numeral_matches_either_reading(text: str, heard: str) -> None:
    """Measured on a Standard Ebooks book: the joe voice reads the heading "III" as "roman
    three", which pocketsphinx hears word for word (it was a false flag before this reading)."""
    result = compare(text, heard)
    assert (result.wer, result.missing, result.added) == (0.0, (), ())


def test_compare_exact_match() -> None:
    result = compare("The cat sat on the mat.", "the cat sat on the mat")
    assert (result.words, result.wer, result.missing, result.added) == (6, 0.0, (), ())


def test_compare_deletion_substitution_insertion() -> None:
    result = compare("the quick brown fox jumps", "the quack fox jumps high")
    # the | quick→quack (sub) | brown (del) | fox jumps | +high (ins): 3 errors / 5 words
    assert result.wer == pytest.approx(3 / 5)
    assert result.missing == ("quick", "brown")
    assert result.added == ("quack", "high")


def test_compare_counts_the_missing_tail() -> None:
    """Words after the last one heard: what an audio file cut short loses."""
    cut = compare("one two three four five six", "one two three")
    assert (cut.missing_tail, cut.missing) == (3, ("four", "five", "six"))
    garbled_end = compare("one two three four five six", "one two three four five sex")
    assert garbled_end.missing_tail == 1
    assert compare("one two three", "one two three").missing_tail == 0
    assert compare("one two three", "").missing_tail == 3


def test_compare_nothing_heard_and_nothing_expected() -> None:
    silent = compare("one two three", "")
    assert (silent.wer, silent.missing, silent.added) == (1.0, ("one", "two", "three"), ())
    empty = compare("…", "uh")
    assert (empty.words, empty.wer, empty.added) == (0, 1.0, ("uh",))
    assert not score_segment(0, "…", "uh").flagged


def test_long_sentence_flag_rule() -> None:
    text = "the quick brown fox jumps over the lazy dog"
    assert not score_segment(0, text, "the quick brown fox jumped over the lazy dog").flagged
    swapped = score_segment(3, text, "every night its bright lamp turned slowly")
    assert swapped.flagged and swapped.wer > WER_THRESHOLD
    assert swapped.reason.startswith(f"WER {swapped.wer:.2f} > {WER_THRESHOLD:.2f}")
    assert "missing words: the, quick, brown" in swapped.reason
    assert "added words: every, night" in swapped.reason


def test_flag_rule_boundary_is_strictly_above_threshold() -> None:
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
             "juliet"]  # fmt: skip
    errors = round(WER_THRESHOLD * len(words))
    heard = words[errors:]  # exactly `errors` deletions: WER == threshold
    score = score_segment(0, " ".join(words), " ".join(heard))
    assert score.wer == pytest.approx(errors / len(words))
    assert score.flagged is (score.wer > WER_THRESHOLD)


def test_short_sentence_flagged_only_when_nothing_matches() -> None:
    assert SHORT_SEGMENT_WORDS > 2
    assert not score_segment(0, "Thank you.", "thank").flagged  # WER 0.5 but a word heard
    assert not score_segment(0, "Thank you.", "thank the").flagged
    nothing = score_segment(0, "Thank you.", "bank blue")
    assert nothing.flagged
    assert (
        nothing.reason
        == "none of its 2 words heard; missing words: thank, you; added words: bank, blue"
    )


def test_cut_short_audio_is_flagged_by_its_missing_tail() -> None:
    text = "one two three four five six seven eight nine ten"
    cut = score_segment(0, text, "one two three four five six")  # WER 0.4: under the bar
    assert cut.wer <= WER_THRESHOLD
    assert cut.flagged
    assert cut.reason.startswith("last 4 of 10 words not heard")
    assert not score_segment(0, text, "one two three four five six seven eight").flagged


def test_reason_counts_words_beyond_the_first_few() -> None:
    text = " ".join(f"word{chr(97 + i)}" for i in range(REASON_WORDS + 3))
    score = score_segment(0, text, "")
    assert score.flagged
    assert score.reason.endswith("and 3 more")
    assert "added words" not in score.reason


class FixedRecognizer:
    name = "fixed"
    concurrency = 1

    def __init__(self, heard: str) -> None:
        self.heard = heard
        self.calls: list[bytes] = []

    def transcribe(self, wav_bytes: bytes) -> str:
        self.calls.append(wav_bytes)
        return self.heard


def test_check_segment_uses_the_recognizer() -> None:
    recognizer = FixedRecognizer("hello world")
    assert isinstance(recognizer, Recognizer)
    score = check_segment(7, "Hello, world!", b"RIFF", recognizer)
    assert recognizer.calls == [b"RIFF"]
    assert (score.index, score.heard, score.wer, score.flagged) == (7, "hello world", 0.0, False)


def _wav(samples: np.ndarray, rate: int, channels: int = 1) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.astype("<i2").tobytes())
    return buffer.getvalue()


def test_asr_pcm_resamples_to_16k_mono() -> None:
    rate = 22050
    tone = (np.sin(2 * np.pi * 440 * np.arange(rate) / rate) * 10000).astype(np.int16)
    stereo = np.repeat(tone, 2)
    audio, got_rate = read_wav(_wav(stereo, rate, channels=2))
    assert got_rate == rate and len(audio) == rate
    pcm = np.frombuffer(asr_pcm(_wav(tone, rate)), dtype="<i2")
    assert len(pcm) == ASR_SAMPLE_RATE
    assert abs(np.abs(pcm[1000:-1000]).max() - 10000) < 500  # the tone survives, not aliased


def test_read_wav_rejects_8_bit() -> None:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(1)
        out.setframerate(8000)
        out.writeframes(bytes(100))
    with pytest.raises(ValueError, match="16-bit"):
        read_wav(buffer.getvalue())


def test_distribution() -> None:
    result = distribution([0.0, 0.05, 0.1, 0.2, 0.5, 1.0, 1.5])
    assert result["count"] == 7
    assert result["median"] == pytest.approx(0.2)
    assert result["max"] == pytest.approx(1.5)
    counts = {(b["low"], b["high"]): b["count"] for b in result["histogram"]}
    assert counts[(0.0, 0.1)] == 2
    assert counts[(0.1, 0.2)] == 1
    assert counts[(0.5, 0.75)] == 1
    assert counts[(1.0, None)] == 2
    assert sum(counts.values()) == 7
    assert distribution([])["median"] is None


def _book() -> dict:
    lighthouse = "The old lighthouse stood on the hill."
    lamp = "Every night <b>its</b> lamp turned & turned."
    first = [
        score_segment(0, lighthouse, "the old lighthouse stood on the hill"),
        score_segment(1, lamp, "in the morning boats went out"),
    ]
    second = [score_segment(2, "In the morning.", "in the morning")]
    chapters = [ChapterScores(0, "One <script>", first), ChapterScores(1, "Two", second)]
    return book_report("A & B", chapters, "fixed")


def test_book_report_shape_is_json() -> None:
    report = json.loads(json.dumps(_book()))
    assert report["title"] == "A & B" and report["recognizer"] == "fixed"
    assert (report["segments"], report["flagged_count"]) == (3, 1)
    assert report["wer"]["count"] == 3 and report["wer"]["max"] == pytest.approx(1.0)
    first, second = report["chapters"]
    assert (first["segments"], first["flagged_count"], second["flagged_count"]) == (2, 1, 0)
    flagged = first["flagged"][0]
    assert flagged["index"] == 1 and flagged["flagged"] is True
    assert "missing words: every, night" in flagged["reason"]
    assert isinstance(flagged["missing"], list)
    assert second["wer"]["median"] == 0.0


def test_html_escapes_book_text() -> None:
    page = render_html(_book())
    assert page.startswith("<!DOCTYPE html>")
    assert "<script>" not in page and "<b>its</b>" not in page
    assert "One &lt;script&gt;" in page
    assert "Every night &lt;b&gt;its&lt;/b&gt; lamp turned &amp; turned." in page
    assert "Speech QA: A &amp; B" in page
    assert "No segment flagged." in page

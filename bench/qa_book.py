"""Speech QA on a real book through the pipeline: false flags on clean audio, catches of broken
segments, what one automatic retake round fixes, and what QA costs against the conversion.

    python bench/qa_book.py [--paragraphs 3] [--broken 10]

The book is Standard Ebooks' "Adventures of Sherlock Holmes" with each story cut to its first
`--paragraphs` paragraphs (bench/books.py), converted in direct mode on a fresh embedded stack
(its start-up is not counted). Steps, each a run of the project workflow:
1. convert without QA (the baseline wall);
2. render again with QA on: nothing is synthesised, every segment is transcribed and scored;
   its flags on the clean book are false flags (or real faults of the voice: they are printed);
3. break `--broken` segments of 6+ words (their stored audio replaced by another story's
   sentence, their checks dropped) and render again: how many QA catches;
4. render again with one automatic retake: how many flags remain.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.books import SHERLOCK, short_sherlock
from bench.embedded import finished, on_fresh_stack
from voxflow.settings import Settings

MIN_BROKEN_WORDS = 6
SEED = 11


def _checks(engine, project_id: int) -> dict[tuple[int, int], object]:
    """The check of each segment's audio in use, by (chapter, segment) index."""
    from voxflow.db import repository, session_scope
    from voxflow.qa.store import current_checks

    with session_scope(engine) as session:
        found = {
            (c.index, s.index): check
            for c in repository.list_chapters(session, project_id)
            for s, check in current_checks(session, c.id)
        }
        session.expunge_all()
    return found


def _audio_seconds(engine, project_id: int) -> float:
    from voxflow.db import repository, session_scope

    with session_scope(engine) as session:
        return sum(c.duration_s or 0.0 for c in repository.list_chapters(session, project_id))


def _break(engine, store, project_id: int, count: int) -> list[tuple[int, int]]:
    """Give `count` long segments the audio of a long segment of another chapter."""
    from sqlmodel import delete

    from voxflow.db import repository, session_scope
    from voxflow.db.models import SegmentCheck

    with session_scope(engine) as session:
        rows = [
            (c.index, s)
            for c in repository.list_chapters(session, project_id)
            for s in repository.list_segments(session, c.id, limit=10**6)
            if len(s.text.split()) >= MIN_BROKEN_WORDS
        ]
        rng = random.Random(SEED)
        picked = rng.sample(rows, count)
        for chapter, segment in picked:
            donor = rng.choice([s for c, s in rows if c != chapter])
            store.put(segment.audio_key, store.get(donor.audio_key))
            session.exec(delete(SegmentCheck).where(SegmentCheck.segment_id == segment.id))
        return [(chapter, segment.index) for chapter, segment in picked]


def _print_flags(checks: dict) -> None:
    for (chapter, index), check in sorted(checks.items()):
        if check.reason:
            print(f"   flagged {chapter}/{index}: {check.reason}\n     text:  {check.expected}")
            print(f"     heard: {check.heard}")


def _summary(checks: dict) -> str:
    import numpy as np

    wers = np.array([c.wer for c in checks.values()])
    flagged = sum(bool(c.reason) for c in checks.values())
    return (
        f"{flagged} of {len(checks)} segments flagged ({100 * flagged / len(checks):.1f} %); "
        f"WER median {np.median(wers):.2f}, p90 {np.percentile(wers, 90):.2f}"
    )


async def _bench(settings: Settings, book: bytes, broken: int) -> None:
    from voxflow.artifacts import open_store
    from voxflow.conversion import QaChange, connect, rerender_project, start_conversion_bytes
    from voxflow.db import make_engine

    client = await connect(settings)
    engine, store = make_engine(settings.database_url), open_store(settings)

    async def render(what: str, qa: QaChange | None = None) -> float:
        started = time.perf_counter()
        run = await rerender_project(settings, client, first.project_id, qa)
        result = await finished(client, run.workflow_id)
        wall = time.perf_counter() - started
        print(f"{what}: {result.synthesized} synthesised, {wall:.1f} s")
        return wall

    started = time.perf_counter()
    first = await start_conversion_bytes(settings, book, SHERLOCK.name, client=client)
    result = await finished(client, first.workflow_id)
    first_s = time.perf_counter() - started
    audio_s = _audio_seconds(engine, first.project_id)
    print(
        f"1. conversion without QA: {first.chapters} chapters, {first.segments} segments, "
        f"{audio_s / 60:.1f} min of audio, {result.synthesized} synthesised, {first_s:.1f} s"
    )
    qa_s = await render("2. rendered again with speech QA", QaChange(0))
    print(
        f"   QA wall {qa_s:.1f} s = {qa_s / first_s:.2f}x the conversion's; "
        f"{audio_s / qa_s:.1f} audio-s checked per wall-s"
    )
    clean = _checks(engine, first.project_id)
    print(f"   clean book: {_summary(clean)}")
    _print_flags(clean)
    picked = _break(engine, store, first.project_id, broken)
    await render(f"3. {broken} segments broken (another story's audio), rendered again")
    after = _checks(engine, first.project_id)
    caught = [where for where in picked if after[where].reason]
    print(f"   caught {len(caught)} of {len(picked)} broken segments; {_summary(after)}")
    await render("4. one automatic retake", QaChange(1))
    fixed = _checks(engine, first.project_id)
    print(f"   after the retake round: {_summary(fixed)}")
    still = [where for where in picked if fixed[where].reason]
    print(f"   broken segments still flagged: {len(still)} of {len(picked)}")
    _print_flags(fixed)
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paragraphs", type=int, default=3, help="paragraphs kept per story")
    parser.add_argument("--broken", type=int, default=10, help="segments to break")
    args = parser.parse_args()
    book = short_sherlock(paragraphs=args.paragraphs)
    print(f"$ python bench/qa_book.py --paragraphs {args.paragraphs} --broken {args.broken}")
    on_fresh_stack("voxflow-bench-qa-", lambda settings: _bench(settings, book, args.broken))


if __name__ == "__main__":
    main()

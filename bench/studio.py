"""The studio loop on a real book: first conversion, then a one-sentence edit and a lexicon
entry, each rendered again; prints what each re-render did and its wall against the first.

    python bench/studio.py [--paragraphs 3]

The book is Standard Ebooks' "Adventures of Sherlock Holmes" with each story cut to its first
`--paragraphs` paragraphs (12 chapters; bench/books.py), converted in direct mode on a fresh
embedded stack (its start-up is not counted).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.books import SHERLOCK, short_sherlock
from bench.embedded import finished, on_fresh_stack
from voxflow.settings import Settings


async def _studio(settings: Settings, book: bytes) -> None:
    from voxflow import takes
    from voxflow.conversion import connect, rerender_project, start_conversion_bytes
    from voxflow.db import make_engine, repository, session_scope
    from voxflow.lexicon import Entry
    from voxflow.lexicon import store as lexicon_store

    client = await connect(settings)
    started = time.perf_counter()
    first = await start_conversion_bytes(settings, book, SHERLOCK.name, client=client)
    result = await finished(client, first.workflow_id)
    first_s = time.perf_counter() - started
    print(
        f"first conversion: {first.chapters} chapters, {first.segments} segments, "
        f"{result.synthesized} synthesised, {first_s:.1f} s"
    )
    engine = make_engine(settings.database_url)

    async def again(what: str) -> None:
        started = time.perf_counter()
        run = await rerender_project(settings, client, first.project_id)
        result = await finished(client, run.workflow_id)
        wall = time.perf_counter() - started
        print(
            f"{what}: {result.synthesized} synthesised, {result.reused} reused, {wall:.1f} s "
            f"= {wall / first_s:.3f} of the first conversion"
        )

    with session_scope(engine) as session:
        chapter = repository.get_chapter(session, first.project_id, 5)
        segment = repository.list_segments(session, chapter.id, offset=2, limit=1)[0]
        takes.edit(
            session, first.project_id, 5, 2, segment.text.replace(" ", "  ", 1) + " Indeed.", 400
        )
    await again("one sentence edited (chapter 5)")
    entry = Entry("Watson", "Wotson")
    with session_scope(engine) as session:
        touched = lexicon_store.touched_by(session, first.project_id, [entry], shared=False)
        lexicon_store.put(session, first.project_id, [entry])
    chapters = sorted({t.chapter_index for t in touched})
    print(f"lexicon entry Watson → Wotson touches {len(touched)} segments in chapters {chapters}")
    await again("lexicon entry")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paragraphs", type=int, default=3, help="paragraphs kept per story")
    args = parser.parse_args()
    book = short_sherlock(paragraphs=args.paragraphs)
    print(f"$ python bench/studio.py --paragraphs {args.paragraphs}")
    on_fresh_stack("voxflow-bench-studio-", lambda settings: _studio(settings, book))


if __name__ == "__main__":
    main()

"""A 60,000-segment book stores in bulk and pages correctly (figures live in bench/, not here)."""

from __future__ import annotations

from voxflow.db import make_engine, migrate, session_scope
from voxflow.db import repository as repo
from voxflow.db.models import SegmentStatus
from voxflow.document import Block, Chapter, Document, Segment

CHAPTERS, BLOCKS, SENTENCES = 60, 100, 10  # 60 × 100 × 10 = 60,000 segments


def big_document() -> Document:
    chapters = []
    for c in range(1, CHAPTERS + 1):
        blocks = [
            Block(
                index=b,
                segments=[
                    Segment(c, b, b * SENTENCES + s, f"Chapter {c}, paragraph {b}, sentence {s}.")
                    for s in range(SENTENCES)
                ],
            )
            for b in range(BLOCKS)
        ]
        chapters.append(Chapter(index=c, title=f"Chapter {c}", blocks=blocks))
    return Document(title="Long Book", chapters=chapters, source_format="txt")


def test_sixty_thousand_segments(database_url):
    migrate(database_url)
    engine = make_engine(database_url)
    per_chapter = BLOCKS * SENTENCES
    try:
        with session_scope(engine) as session:
            project = repo.create_project(
                session, big_document(), source_name="long.txt", voice="joe"
            )
        with session_scope(engine) as session:
            assert repo.get_project(session, project.id).segment_count == 60_000
            chapters = repo.list_chapters(session, project.id)
            assert len(chapters) == CHAPTERS
            last = chapters[-1]
            assert last.segment_count == per_chapter

            page = repo.list_segments(session, last.id, offset=per_chapter - 25, limit=100)
            assert [s.index for s in page] == list(range(per_chapter - 25, per_chapter))
            assert page[-1].text == f"Chapter {CHAPTERS}, paragraph {BLOCKS - 1}, sentence 9."
            assert page[-1].block_index == BLOCKS - 1

            updates = [
                repo.SegmentUpdate(s.id, SegmentStatus.done, duration_s=1.0, audio_key="k")
                for s in repo.list_segments(session, last.id, limit=per_chapter)
            ]
            assert repo.mark_segments(session, updates) == per_chapter
            assert repo.chapter_counts(session, last.id) == (per_chapter, per_chapter, 0)
            assert repo.chapter_counts(session, chapters[0].id) == (per_chapter, 0, 0)
            assert repo.get_chapter(session, project.id, CHAPTERS).done_count == per_chapter
    finally:
        engine.dispose()

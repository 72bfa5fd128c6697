"""Read-only queries the pages and the API share; each touches a bounded number of rows.

Progress comes from the counters on the chapter rows, and segment pages are read by key
(`index >= start` on the (chapter_id, index) index), so a 60,000-segment book costs the same
as a short story.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, col, select

from voxflow.db import repository
from voxflow.db.models import (
    Chapter,
    Conversion,
    Project,
    Segment,
    SegmentCheck,
    SegmentStatus,
    SegmentTake,
)
from voxflow.qa.store import flagged_now


@dataclass
class Progress:
    total: int
    done: int
    failed: int

    @property
    def percent(self) -> float:
        return round(100.0 * self.done / self.total, 1) if self.total else 0.0


@dataclass
class ProjectView:
    project: Project
    chapters: Sequence[Chapter]
    started: bool

    @property
    def progress(self) -> Progress:
        total = sum(c.segment_count for c in self.chapters) or self.project.segment_count
        done = sum(c.done_count for c in self.chapters)
        failed = sum(c.failed_count for c in self.chapters)
        return Progress(total, done, failed)


@dataclass
class SegmentPage:
    rows: Sequence[Segment]
    start: int
    limit: int
    next_start: int | None
    prev_start: int | None
    last_start: int | None


def list_projects(
    session: Session, *, before: int | None, limit: int
) -> tuple[Sequence[Project], dict[int, Progress], int | None]:
    """Newest first, keyset-paged by id; progress summed over chapter rows in one query."""
    statement = select(Project).order_by(col(Project.id).desc()).limit(limit + 1)
    if before is not None:
        statement = statement.where(col(Project.id) < before)
    rows = list(session.exec(statement).all())
    more = len(rows) > limit
    rows = rows[:limit]
    progress: dict[int, Progress] = {}
    if rows:
        sums = session.execute(
            sa.select(
                Chapter.project_id,
                sa.func.sum(Chapter.segment_count),
                sa.func.sum(Chapter.done_count),
                sa.func.sum(Chapter.failed_count),
            )
            .where(col(Chapter.project_id).in_([p.id for p in rows]))
            .group_by(Chapter.project_id)
        )
        for project_id, total, done, failed in sums:
            progress[project_id] = Progress(int(total or 0), int(done or 0), int(failed or 0))
    for p in rows:
        progress.setdefault(p.id, Progress(p.segment_count, 0, 0))
    return rows, progress, (rows[-1].id if more else None)


def project_view(session: Session, project_id: int) -> ProjectView:
    project = repository.get_project(session, project_id)
    chapters = repository.list_chapters(session, project_id)
    started = (
        session.execute(
            sa.select(Conversion.id).where(Conversion.project_id == project_id).limit(1)
        ).first()
        is not None
    )
    return ProjectView(project, chapters, started)


@dataclass(frozen=True)
class SegmentFilter:
    """Which segments a page lists; each condition is SQL, so keyset paging stays cheap."""

    status: SegmentStatus | None = None
    flagged: bool | None = None  # speech QA flagged the audio in use
    edited: bool | None = None  # the text differs from the imported one
    approved: bool | None = None  # the audio is locked

    def apply(self, statement):
        conditions = []
        if self.status is not None:
            conditions.append(Segment.status == self.status)
        edited = sa.and_(
            col(Segment.source_text).is_not(None), col(Segment.source_text) != Segment.text
        )
        approved = col(Segment.approved_key).is_not(None)
        for wanted, condition in (
            (self.flagged, flagged_now()),
            (self.edited, edited),
            (self.approved, approved),
        ):
            if wanted is not None:
                conditions.append(condition if wanted else sa.not_(condition))
        return statement.where(*conditions) if conditions else statement


def segment_page(
    session: Session,
    chapter_id: int,
    *,
    start: int,
    limit: int,
    where: SegmentFilter = SegmentFilter(),
) -> SegmentPage:
    """`limit` segments with index >= start, plus where the next/previous/last pages start."""

    def filtered(statement):
        return where.apply(statement.where(Segment.chapter_id == chapter_id))

    rows = list(
        session.exec(
            filtered(select(Segment))
            .where(col(Segment.index) >= start)
            .order_by(col(Segment.index))
            .limit(limit + 1)
        ).all()
    )
    next_start = rows[limit].index if len(rows) > limit else None
    rows = rows[:limit]
    index = col(Segment.index)
    before = session.execute(
        filtered(sa.select(index)).where(index < start).order_by(index.desc()).limit(limit)
    ).all()
    prev_start = before[-1][0] if before else None
    tail = session.execute(
        filtered(sa.select(index)).order_by(index.desc()).limit(1).offset(limit - 1)
    ).first()
    last_start = tail[0] if tail else 0
    return SegmentPage(rows, start, limit, next_start, prev_start, last_start)


def page_extras(
    session: Session, segments: Sequence[Segment]
) -> tuple[dict[int, SegmentCheck], dict[int, SegmentTake]]:
    """What a page shows beside its rows, by segment id: the speech QA of the audio each uses
    and the take that audio was made as (to tell audio a render will replace); two queries,
    whatever the page size."""
    return (
        repository.rows_for_audio_in_use(session, SegmentCheck, segments),
        repository.rows_for_audio_in_use(session, SegmentTake, segments),
    )


def get_segment(session: Session, chapter_id: int, index: int) -> Segment | None:
    statement = select(Segment).where(Segment.chapter_id == chapter_id, Segment.index == index)
    return session.exec(statement).first()

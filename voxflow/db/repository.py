"""The kernel repository: plain functions over a Session that activities and the web app call.

Functions flush but never commit; the caller's `session_scope` owns the transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlmodel import Session, col, select

from voxflow.db.models import (
    Chapter,
    ChapterState,
    Conversion,
    ConversionState,
    DispatchMode,
    Project,
    ProjectState,
    Segment,
    SegmentCheck,
    SegmentStatus,
    SegmentTake,
)
from voxflow.db.types import utcnow
from voxflow.document import Document
from voxflow.errors import InputError, VoxflowError

_Stateful = TypeVar("_Stateful", Project, Chapter)

# Rows per bulk statement: well under SQLite's and PostgreSQL's bound-parameter limits.
_BATCH = 1000


class NotFound(VoxflowError, LookupError):
    """A project or chapter id that does not exist (a user typo, or a deleted project)."""


@dataclass(slots=True)
class SegmentUpdate:
    """One segment's outcome: None keeps duration/audio_key/attempts; `error` is always set."""

    id: int
    status: SegmentStatus
    duration_s: float | None = None
    audio_key: str | None = None
    attempts: int | None = None
    error: str | None = None


def create_project_shell(
    session: Session,
    *,
    title: str,
    source_name: str,
    source_format: str,
    voice: str,
    model_version: str = "",
    output_format: str = "mp3",
    include_front_matter: bool = False,
    acx_credits: bool = False,
    qa_retakes: int | None = None,
) -> Project:
    """A project whose document is imported later, by the workflow's import activity.
    `qa_retakes` None: no speech QA; a number: QA with up to that many automatic retakes."""
    project = Project(
        title=title,
        source_name=source_name,
        source_format=source_format,
        voice=voice,
        model_version=model_version,
        output_format=output_format,
        include_front_matter=include_front_matter,
        acx_credits=acx_credits,
    )
    set_speech_qa(project, qa_retakes)
    session.add(project)
    session.flush()
    return project


def set_speech_qa(project: Project, qa_retakes: int | None) -> None:
    """Speech QA on with up to `qa_retakes` automatic retakes, or off (None)."""
    if qa_retakes is not None and qa_retakes < 0:
        raise InputError(f"automatic retakes must be 0 or more, not {qa_retakes}")
    project.speech_qa, project.qa_retakes = qa_retakes is not None, qa_retakes or 0


def create_project(
    session: Session,
    document: Document,
    *,
    source_name: str,
    voice: str,
    model_version: str = "",
    output_format: str = "mp3",
) -> Project:
    """Store a parsed document: the project, its chapters, then every segment in bulk."""
    project = create_project_shell(
        session,
        title=document.title,
        source_name=source_name,
        source_format=document.source_format,
        voice=voice,
        model_version=model_version,
        output_format=output_format,
    )
    attach_document(session, project, document)
    return project


def attach_document(session: Session, project: Project, document: Document) -> None:
    """Insert a parsed document's chapters, then every segment in bulk statements."""
    segments_per_chapter = [chapter.segments for chapter in document.chapters]
    project.title = document.title or project.title
    project.source_format = document.source_format or project.source_format
    project.chapter_count = len(document.chapters)
    project.segment_count = sum(len(segments) for segments in segments_per_chapter)
    project.author = document.metadata.author
    project.year = document.metadata.year
    project.language = document.metadata.language
    chapters = [
        Chapter(
            project_id=project.id,
            index=chapter.index,
            title=chapter.title,
            segment_count=len(segments),
        )
        for chapter, segments in zip(document.chapters, segments_per_chapter, strict=True)
    ]
    session.add_all(chapters)
    session.flush()
    rows = [
        {
            "chapter_id": chapter.id,
            "project_id": project.id,
            "index": segment.index,
            "block_index": segment.block_index,
            "text": segment.text,
            "text_hash": segment.hash,
            "status": SegmentStatus.pending,
            "attempts": 0,
        }
        for chapter, segments in zip(chapters, segments_per_chapter, strict=True)
        for segment in segments
    ]
    for start in range(0, len(rows), _BATCH):
        session.execute(sa.insert(Segment), rows[start : start + _BATCH])
    session.flush()


def get_project(session: Session, project_id: int) -> Project:
    project = session.get(Project, project_id)
    if project is None:
        raise NotFound(f"project {project_id} does not exist")
    return project


def list_projects(session: Session, *, offset: int = 0, limit: int = 100) -> Sequence[Project]:
    """Newest first, as the web app's project list shows them."""
    statement = select(Project).order_by(col(Project.id).desc()).offset(offset).limit(limit)
    return session.exec(statement).all()


def list_chapters(session: Session, project_id: int) -> Sequence[Chapter]:
    get_project(session, project_id)
    statement = select(Chapter).where(Chapter.project_id == project_id).order_by(Chapter.index)
    return session.exec(statement).all()


def get_chapter(session: Session, project_id: int, index: int) -> Chapter:
    statement = select(Chapter).where(Chapter.project_id == project_id, Chapter.index == index)
    chapter = session.exec(statement).one_or_none()
    if chapter is None:
        get_project(session, project_id)
        raise NotFound(f"project {project_id} has no chapter {index}")
    return chapter


def list_segments(
    session: Session,
    chapter_id: int,
    *,
    offset: int = 0,
    limit: int = 500,
    status: SegmentStatus | None = None,
) -> Sequence[Segment]:
    """One page of a chapter's segments in reading order, via the (chapter_id, index) index."""
    statement = select(Segment).where(Segment.chapter_id == chapter_id)
    if status is not None:
        statement = statement.where(Segment.status == status)
    statement = statement.order_by(Segment.index).offset(offset).limit(limit)
    return session.exec(statement).all()


_PerAudio = TypeVar("_PerAudio", SegmentCheck, SegmentTake)


def rows_for_audio_in_use(
    session: Session, model: type[_PerAudio], segments: Sequence[Segment]
) -> dict[int, _PerAudio]:
    """The `model` row (a take or a speech-QA check) of the audio each segment uses now, by
    segment id: one query for a page of segments."""
    keys = {s.id: s.audio_key for s in segments if s.audio_key}
    if not keys:
        return {}
    rows = session.exec(select(model).where(col(model.segment_id).in_(keys)))
    return {r.segment_id: r for r in rows if keys.get(r.segment_id) == r.audio_key}


def segment_lengths(session: Session, chapter_id: int) -> list[int]:
    """Characters per segment in reading order: all a job planner needs, without the text."""
    statement = (
        sa.select(sa.func.length(Segment.text))
        .where(Segment.chapter_id == chapter_id)
        .order_by(Segment.index)
    )
    return list(session.scalars(statement))


def set_segment_times(
    session: Session, chapter_id: int, times: Iterable[tuple[int, float, float]]
) -> None:
    """Store each segment's (index, start, end) seconds within its chapter's audio."""
    ids = dict(
        session.execute(
            sa.select(Segment.index, Segment.id).where(Segment.chapter_id == chapter_id)
        ).all()
    )
    rows = [{"id": ids[index], "start_s": start, "end_s": end} for index, start, end in times]
    for start in range(0, len(rows), _BATCH):
        session.execute(sa.update(Segment), rows[start : start + _BATCH])
    session.flush()


def count_attempts(session: Session, ids: Sequence[int]) -> None:
    """Add one attempt in SQL: concurrent writers (duplicate results) never lose one."""
    if ids:
        statement = (
            sa.update(Segment)
            .where(col(Segment.id).in_(list(ids)))
            .values(attempts=Segment.attempts + 1)
        )
        session.execute(statement)


def segment_statuses(session: Session, ids: Sequence[int]) -> dict[int, SegmentStatus]:
    statement = sa.select(Segment.id, Segment.status).where(col(Segment.id).in_(list(ids)))
    return {segment_id: SegmentStatus(status) for segment_id, status in session.execute(statement)}


def chapter_counts(session: Session, chapter_id: int) -> tuple[int, int, int]:
    """(total, done, failed) from one GROUP BY over the (chapter_id, status) index."""
    statement = (
        sa.select(Segment.status, sa.func.count())
        .where(Segment.chapter_id == chapter_id)
        .group_by(Segment.status)
    )
    counts = {SegmentStatus(status): n for status, n in session.execute(statement)}
    done = counts.get(SegmentStatus.done, 0)
    failed = counts.get(SegmentStatus.failed, 0)
    return sum(counts.values()), done, failed


def mark_segments(session: Session, updates: Iterable[SegmentUpdate]) -> int:
    """Record a batch of results and refresh the touched chapters' done/failed counters."""
    rows = []
    for update in updates:
        row = {"id": update.id, "status": update.status, "last_error": update.error}
        if update.duration_s is not None:
            row["duration_s"] = update.duration_s
        if update.audio_key is not None:
            row["audio_key"] = update.audio_key
        if update.attempts is not None:
            row["attempts"] = update.attempts
        rows.append(row)
    if not rows:
        return 0
    for start in range(0, len(rows), _BATCH):
        session.execute(sa.update(Segment), rows[start : start + _BATCH])
    chapter_ids: set[int] = set()
    ids = [row["id"] for row in rows]
    for start in range(0, len(ids), _BATCH):
        statement = sa.select(Segment.chapter_id).where(
            col(Segment.id).in_(ids[start : start + _BATCH])
        )
        chapter_ids.update(session.scalars(statement.distinct()))
    for chapter_id in chapter_ids:
        refresh_chapter_counts(session, chapter_id)
    return len(rows)


def refresh_chapter_counts(session: Session, chapter_id: int) -> Chapter:
    """Copy the live counts onto the chapter row so progress pages read one row, not 60,000."""
    chapter = session.get(Chapter, chapter_id)
    if chapter is None:
        raise NotFound(f"chapter id {chapter_id} does not exist")
    chapter.segment_count, chapter.done_count, chapter.failed_count = chapter_counts(
        session, chapter_id
    )
    session.flush()
    return chapter


def set_chapter_state(
    session: Session,
    project_id: int,
    index: int,
    state: ChapterState,
    *,
    error: str | None = None,
    workflow_id: str | None = None,
    audio_key: str | None = None,
    subtitle_key: str | None = None,
    duration_s: float | None = None,
    lufs: float | None = None,
) -> Chapter:
    """Move a chapter to `state`; `error` is replaced (None clears it), other outputs only set."""
    outputs = {
        "workflow_id": workflow_id,
        "audio_key": audio_key,
        "subtitle_key": subtitle_key,
        "duration_s": duration_s,
        "lufs": lufs,
    }
    return _move(session, get_chapter(session, project_id, index), state, error, outputs)


def set_project_state(
    session: Session,
    project_id: int,
    state: ProjectState,
    *,
    error: str | None = None,
    duration_s: float | None = None,
    book_key: str | None = None,
    manifest_key: str | None = None,
    read_along_key: str | None = None,
) -> Project:
    """Move a project to `state`; `error` is replaced (None clears it), outputs only set."""
    outputs = {
        "duration_s": duration_s,
        "book_key": book_key,
        "manifest_key": manifest_key,
        "read_along_key": read_along_key,
    }
    return _move(session, get_project(session, project_id), state, error, outputs)


def _move(
    session: Session, row: _Stateful, state: Any, error: str | None, outputs: dict
) -> _Stateful:
    """Set state and error on a project or chapter row, and each output that is not None."""
    row.state = state
    row.error = error
    for name, value in outputs.items():
        if value is not None:
            setattr(row, name, value)
    session.flush()
    return row


def record_conversion(
    session: Session,
    project_id: int,
    *,
    workflow_id: str,
    run_id: str | None = None,
    dispatch: DispatchMode = DispatchMode.direct,
) -> Conversion:
    """A new run of the project's workflow (first start or replay), in state running."""
    get_project(session, project_id)
    conversion = Conversion(
        project_id=project_id, workflow_id=workflow_id, run_id=run_id, dispatch=dispatch
    )
    session.add(conversion)
    session.flush()
    return conversion


def finish_conversion(
    session: Session, conversion_id: int, state: ConversionState, *, error: str | None = None
) -> Conversion:
    conversion = session.get(Conversion, conversion_id)
    if conversion is None:
        raise NotFound(f"conversion {conversion_id} does not exist")
    conversion.state = state
    conversion.error = error
    conversion.finished_at = utcnow()
    session.flush()
    return conversion


# A project state where its workflow rests, and how the conversion that led there ends.
_CONVERSION_ENDS = {
    ProjectState.done: ConversionState.done,
    ProjectState.failed: ConversionState.failed,
    ProjectState.cancelled: ConversionState.cancelled,
    ProjectState.attention: ConversionState.failed,
}


def follow_conversion(
    session: Session,
    project_id: int,
    state: ProjectState,
    *,
    error: str | None,
    workflow_id: str,
    run_id: str | None,
) -> Conversion | None:
    """Keep conversion rows in step with the workflow's state (recorded where it changes).

    A resting state finishes the running conversion; work after a rest (a replay, or building
    the book after an accept) is a new conversion. The first one is recorded by its starter.
    """
    latest = latest_conversion(session, project_id)
    if latest is None:
        return None
    ended = _CONVERSION_ENDS.get(state)
    if ended is not None:
        if latest.state != ConversionState.running:
            return latest
        if state == ProjectState.attention and error is None:
            chapters = list_chapters(session, project_id)
            failed = [str(c.index) for c in chapters if c.state == ChapterState.failed]
            which = f"chapter{'s' if len(failed) > 1 else ''} {', '.join(failed)}"
            error = f"{which} failed; replay or accept the book without {which}"
        return finish_conversion(session, latest.id, ended, error=error)
    if latest.state == ConversionState.running or state not in (
        ProjectState.running,
        ProjectState.building,
    ):
        return latest
    return record_conversion(
        session, project_id, workflow_id=workflow_id, run_id=run_id, dispatch=latest.dispatch
    )


def latest_conversion(session: Session, project_id: int) -> Conversion | None:
    """The project's newest conversion: the running one, or the last to finish."""
    statement = (
        select(Conversion)
        .where(Conversion.project_id == project_id)
        .order_by(col(Conversion.id).desc())
        .limit(1)
    )
    return session.exec(statement).first()


def list_conversions(session: Session, project_id: int) -> Sequence[Conversion]:
    statement = (
        select(Conversion).where(Conversion.project_id == project_id).order_by(Conversion.id)
    )
    return session.exec(statement).all()

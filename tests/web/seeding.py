"""Projects written straight into the database and artifact store, for fast web tests."""

from __future__ import annotations

import sqlalchemy as sa

from voxflow.artifacts import open_store
from voxflow.db import make_engine, migrate, repository, session_scope
from voxflow.db.models import ChapterState, ProjectState, Segment, SegmentStatus
from voxflow.document import Block, Chapter, Document
from voxflow.document import Segment as DocSegment
from voxflow.naming import book_key, chapter_file_key, manifest_key, project_workflow_id
from voxflow.settings import Settings

# 4,000 bytes that stand in for an MP3: Range tests only need known bytes.
FAKE_AUDIO = bytes(range(256)) * 15 + bytes(160)
FAKE_VTT = b"WEBVTT\n\n00:00.750 --> 00:02.000\nFirst sentence.\n"


def document(chapters: dict[str, int], title: str = "Seeded Book") -> Document:
    doc = Document(title=title, source_format="markdown")
    for number, (name, count) in enumerate(chapters.items(), start=1):
        block = Block(0, [DocSegment(number, 0, i, f"{name} sentence {i}.") for i in range(count)])
        doc.chapters.append(Chapter(number, name, [block]))
    return doc


def seed_project(
    settings: Settings,
    chapters: dict[str, int],
    *,
    state: ProjectState = ProjectState.running,
    done: dict[int, int] | None = None,
    failed: dict[int, str] | None = None,
    finished: bool = False,
    started: bool = True,
) -> int:
    """A project with chapters; `done[i]` segments of chapter i done (with audio), `failed`
    chapters failed with that error, `finished` adds chapter audio, subtitles, book, manifest."""
    migrate(settings.database_url)
    engine = make_engine(settings.database_url)
    store = open_store(settings)
    done = done or {}
    failed = failed or {}
    try:
        with session_scope(engine) as session:
            project = repository.create_project(
                session, document(chapters), source_name="seed.md", voice="joe"
            )
            pid = project.id
            if started:
                repository.record_conversion(session, pid, workflow_id=project_workflow_id(pid))
            for chapter in repository.list_chapters(session, pid):
                count = chapter.segment_count if finished else done.get(chapter.index, 0)
                if count:
                    store.put(f"segments/seed/{pid}-{chapter.index}.wav", FAKE_AUDIO)
                    session.execute(
                        sa.update(Segment)
                        .where(Segment.chapter_id == chapter.id, Segment.index < count)
                        .values(
                            status=SegmentStatus.done,
                            attempts=1,
                            duration_s=1.5,
                            audio_key=f"segments/seed/{pid}-{chapter.index}.wav",
                        )
                    )
                if chapter.index in failed:
                    session.execute(
                        sa.update(Segment)
                        .where(Segment.chapter_id == chapter.id, Segment.index >= count)
                        .values(status=SegmentStatus.failed, attempts=2, last_error="boom")
                    )
                repository.refresh_chapter_counts(session, chapter.id)
                outputs = {}
                if finished:
                    audio = chapter_file_key(pid, chapter.index, chapter.title, "mp3")
                    vtt = chapter_file_key(pid, chapter.index, chapter.title, "vtt")
                    store.put(audio, FAKE_AUDIO)
                    store.put(vtt, FAKE_VTT)
                    outputs = dict(audio_key=audio, subtitle_key=vtt, duration_s=12.5)
                if chapter.index in failed:
                    chapter_state = ChapterState.failed
                elif finished:
                    chapter_state = ChapterState.done
                elif count:
                    chapter_state = ChapterState.running
                else:
                    chapter_state = ChapterState.pending
                repository.set_chapter_state(
                    session,
                    pid,
                    chapter.index,
                    chapter_state,
                    error=failed.get(chapter.index),
                    **outputs,
                )
            extra = {}
            if finished:
                store.put(book_key(pid, "seeded-book"), FAKE_AUDIO)
                store.put(manifest_key(pid), b'{"schema_version": 1}')
                extra = dict(
                    book_key=book_key(pid, "seeded-book"),
                    manifest_key=manifest_key(pid),
                    duration_s=25.0,
                )
            repository.set_project_state(session, pid, state, **extra)
    finally:
        engine.dispose()
    return pid


def update_chapter(settings: Settings, project_id: int, index: int, state: ChapterState, **kw):
    engine = make_engine(settings.database_url)
    try:
        with session_scope(engine) as session:
            repository.set_chapter_state(session, project_id, index, state, **kw)
    finally:
        engine.dispose()


def set_project(settings: Settings, project_id: int, state: ProjectState, **kw) -> None:
    engine = make_engine(settings.database_url)
    try:
        with session_scope(engine) as session:
            repository.set_project_state(session, project_id, state, **kw)
    finally:
        engine.dispose()

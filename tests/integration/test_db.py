"""Repository round trips on SQLite and the real PostgreSQL (a fresh database per test)."""

from __future__ import annotations

from datetime import UTC

import pytest
import sqlalchemy as sa

from voxflow.db import make_engine, session_scope
from voxflow.db import repository as repo
from voxflow.db.models import (
    ChapterState,
    ConversionState,
    DispatchMode,
    ProjectState,
    Segment,
    SegmentStatus,
)
from voxflow.document import Block, Chapter, Document, text_hash
from voxflow.document import Segment as DocSegment
from voxflow.errors import VoxflowError


def make_document() -> Document:
    """Two chapters: 2 blocks of 2 and 1 sentences, then 1 block of 2 sentences."""

    def block(chapter: int, index: int, first: int, texts: list[str]) -> Block:
        segments = [DocSegment(chapter, index, first + i, text) for i, text in enumerate(texts)]
        return Block(index=index, segments=segments)

    return Document(
        title="A Small Book",
        source_format="md",
        chapters=[
            Chapter(
                index=1,
                title="Beginnings",
                blocks=[
                    block(1, 0, 0, ["It was late.", "The rain fell."]),
                    block(1, 1, 2, ["Nobody came."]),
                ],
            ),
            Chapter(index=2, title="Endings", blocks=[block(2, 0, 0, ["Morning.", "The end."])]),
        ],
    )


@pytest.fixture
def project_id(engine) -> int:
    with session_scope(engine) as session:
        project = repo.create_project(
            session,
            make_document(),
            source_name="small.md",
            voice="joe",
            model_version="1.0",
            output_format="mp3",
        )
    return project.id


def test_create_and_read_back(engine, project_id):
    with session_scope(engine) as session:
        project = repo.get_project(session, project_id)
        assert project.title == "A Small Book"
        assert project.source_name == "small.md"
        assert project.source_format == "md"
        assert (project.voice, project.model_version, project.output_format) == (
            "joe",
            "1.0",
            "mp3",
        )
        assert project.state is ProjectState.pending
        assert (project.chapter_count, project.segment_count) == (2, 5)
        assert project.created_at.tzinfo is not None
        assert project.created_at.utcoffset() == UTC.utcoffset(None)

        chapters = repo.list_chapters(session, project_id)
        assert [(c.index, c.title, c.segment_count) for c in chapters] == [
            (1, "Beginnings", 3),
            (2, "Endings", 2),
        ]
        assert all(c.state is ChapterState.pending for c in chapters)

        segments = repo.list_segments(session, chapters[0].id)
        assert [(s.index, s.block_index, s.text) for s in segments] == [
            (0, 0, "It was late."),
            (1, 0, "The rain fell."),
            (2, 1, "Nobody came."),
        ]
        assert segments[0].text_hash == text_hash("It was late.")
        assert all(s.project_id == project_id for s in segments)
        assert all(s.status is SegmentStatus.pending and s.attempts == 0 for s in segments)


def test_values_survive_a_fresh_session(engine, project_id):
    """Read through a new engine so nothing comes from the identity map."""
    other = make_engine(engine.url.render_as_string(hide_password=False))
    try:
        with session_scope(other) as session:
            project = repo.get_project(session, project_id)
            assert project.created_at.tzinfo is not None
            assert project.state is ProjectState.pending
            with other.connect() as connection:
                raw = connection.execute(sa.text("SELECT state FROM project")).scalar_one()
            assert raw == "pending"
    finally:
        other.dispose()


def test_list_projects_newest_first(engine, project_id):
    with session_scope(engine) as session:
        second = repo.create_project(
            session, make_document(), source_name="again.md", voice="amy", model_version="2"
        )
    with session_scope(engine) as session:
        assert [p.id for p in repo.list_projects(session)] == [second.id, project_id]
        assert [p.id for p in repo.list_projects(session, offset=1, limit=1)] == [project_id]


def test_get_chapter_and_paging(engine, project_id):
    with session_scope(engine) as session:
        chapter = repo.get_chapter(session, project_id, 1)
        assert chapter.title == "Beginnings"
        first = repo.list_segments(session, chapter.id, offset=0, limit=2)
        rest = repo.list_segments(session, chapter.id, offset=2, limit=2)
        assert [s.index for s in first] == [0, 1]
        assert [s.index for s in rest] == [2]
        assert repo.list_segments(session, chapter.id, offset=3, limit=2) == []


def test_missing_project_and_chapter_raise_clear_errors(engine, project_id):
    with session_scope(engine) as session:
        with pytest.raises(repo.NotFound, match="project 999 does not exist"):
            repo.get_project(session, 999)
        with pytest.raises(repo.NotFound, match="project 999 does not exist"):
            repo.list_chapters(session, 999)
        with pytest.raises(repo.NotFound, match=f"project {project_id} has no chapter 9"):
            repo.get_chapter(session, project_id, 9)
        with pytest.raises(repo.NotFound, match="project 999 does not exist"):
            repo.get_chapter(session, 999, 1)
        with pytest.raises(VoxflowError):
            repo.set_project_state(session, 999, ProjectState.running)


def test_mark_segments_updates_rows_and_counts(engine, project_id):
    with session_scope(engine) as session:
        chapter = repo.get_chapter(session, project_id, 1)
        ids = [s.id for s in repo.list_segments(session, chapter.id)]
        assert repo.chapter_counts(session, chapter.id) == (3, 0, 0)
        updated = repo.mark_segments(
            session,
            [
                repo.SegmentUpdate(ids[0], SegmentStatus.done, duration_s=1.5, audio_key="a.wav"),
                repo.SegmentUpdate(ids[1], SegmentStatus.failed, attempts=3, error="timeout"),
            ],
        )
        assert updated == 2
        chapter_id = chapter.id

    with session_scope(engine) as session:
        segments = repo.list_segments(session, chapter_id)
        assert (segments[0].status, segments[0].duration_s, segments[0].audio_key) == (
            SegmentStatus.done,
            1.5,
            "a.wav",
        )
        assert segments[0].last_error is None
        assert (segments[1].status, segments[1].attempts, segments[1].last_error) == (
            SegmentStatus.failed,
            3,
            "timeout",
        )
        assert segments[2].status is SegmentStatus.pending
        assert repo.chapter_counts(session, chapter_id) == (3, 1, 1)
        chapter = repo.get_chapter(session, project_id, 1)
        assert (chapter.segment_count, chapter.done_count, chapter.failed_count) == (3, 1, 1)
        failed = repo.list_segments(session, chapter_id, status=SegmentStatus.failed)
        assert [s.index for s in failed] == [1]

        # A retry succeeds: the error is cleared, the earlier attempts count stays unless given.
        repo.mark_segments(
            session, [repo.SegmentUpdate(ids[1], SegmentStatus.done, audio_key="b.wav")]
        )
    with session_scope(engine) as session:
        retried = session.get(Segment, ids[1])
        assert (retried.status, retried.last_error, retried.attempts) == (
            SegmentStatus.done,
            None,
            3,
        )
        assert repo.chapter_counts(session, chapter_id) == (3, 2, 0)
        assert repo.get_chapter(session, project_id, 2).done_count == 0
        assert repo.mark_segments(session, []) == 0


def test_chapter_and_project_states(engine, project_id):
    with session_scope(engine) as session:
        before = repo.get_chapter(session, project_id, 2).updated_at
        repo.set_chapter_state(
            session,
            project_id,
            2,
            ChapterState.failed,
            error="voice crashed",
            workflow_id=f"project-{project_id}/chapter-2",
        )
    with session_scope(engine) as session:
        chapter = repo.get_chapter(session, project_id, 2)
        assert (chapter.state, chapter.error) == (ChapterState.failed, "voice crashed")
        assert chapter.workflow_id == f"project-{project_id}/chapter-2"
        assert chapter.updated_at >= before
        repo.set_chapter_state(
            session,
            project_id,
            2,
            ChapterState.done,
            audio_key="projects/1/chapters/02-endings.mp3",
            subtitle_key="projects/1/chapters/02-endings.vtt",
            duration_s=12.5,
            lufs=-19.0,
        )
        repo.set_project_state(
            session,
            project_id,
            ProjectState.done,
            duration_s=30.0,
            book_key="projects/1/a-small-book.m4b",
            manifest_key="projects/1/manifest.json",
        )
    with session_scope(engine) as session:
        chapter = repo.get_chapter(session, project_id, 2)
        assert chapter.state is ChapterState.done
        assert chapter.error is None
        assert chapter.workflow_id == f"project-{project_id}/chapter-2"
        assert (chapter.audio_key, chapter.subtitle_key) == (
            "projects/1/chapters/02-endings.mp3",
            "projects/1/chapters/02-endings.vtt",
        )
        assert (chapter.duration_s, chapter.lufs) == (12.5, -19.0)
        project = repo.get_project(session, project_id)
        assert project.state is ProjectState.done
        assert project.book_key == "projects/1/a-small-book.m4b"
        assert project.manifest_key == "projects/1/manifest.json"
        assert project.duration_s == 30.0
        assert project.updated_at >= project.created_at


def test_conversion_records(engine, project_id):
    with session_scope(engine) as session:
        first = repo.record_conversion(
            session, project_id, workflow_id=f"project-{project_id}", run_id="run-1"
        )
        repo.finish_conversion(session, first.id, ConversionState.failed, error="chapter 2")
        second = repo.record_conversion(
            session,
            project_id,
            workflow_id=f"project-{project_id}",
            run_id="run-2",
            dispatch=DispatchMode.queue,
        )
        second_id = second.id
        with pytest.raises(repo.NotFound):
            repo.record_conversion(session, 999, workflow_id="project-999")
    with session_scope(engine) as session:
        conversions = repo.list_conversions(session, project_id)
        assert [(c.run_id, c.state, c.dispatch, c.error) for c in conversions] == [
            ("run-1", ConversionState.failed, DispatchMode.direct, "chapter 2"),
            ("run-2", ConversionState.running, DispatchMode.queue, None),
        ]
        assert conversions[0].finished_at is not None
        assert conversions[0].finished_at.tzinfo is not None
        assert conversions[0].finished_at >= conversions[0].started_at
        assert conversions[1].id == second_id
        assert conversions[1].finished_at is None


def test_conversions_follow_the_workflow_through_a_replay_and_an_accept(engine, project_id):
    """Each run of work is one conversion row, finished where the workflow comes to rest."""
    workflow_id = f"project-{project_id}"

    def follow(state: ProjectState, error: str | None = None, run_id: str = "run-1") -> None:
        with session_scope(engine) as session:
            if state == ProjectState.attention:
                repo.set_chapter_state(session, project_id, 2, ChapterState.failed)
            repo.follow_conversion(
                session, project_id, state, error=error, workflow_id=workflow_id, run_id=run_id
            )

    follow(ProjectState.importing)  # before its starter recorded it: nothing to follow yet
    with session_scope(engine) as session:
        assert repo.list_conversions(session, project_id) == []
        repo.record_conversion(
            session,
            project_id,
            workflow_id=workflow_id,
            run_id="run-1",
            dispatch=DispatchMode.queue,
        )
    for state in (ProjectState.importing, ProjectState.running, ProjectState.attention):
        follow(state)
    follow(ProjectState.running)  # the replay of chapter 2
    follow(ProjectState.attention)  # it failed again
    follow(ProjectState.building)  # the user accepted the book without it
    follow(ProjectState.done)
    follow(ProjectState.done)  # a retried status write changes nothing
    with session_scope(engine) as session:
        conversions = repo.list_conversions(session, project_id)
        assert [(c.state, c.dispatch, c.error) for c in conversions] == [
            (ConversionState.failed, DispatchMode.queue, failed_chapter_2),
            (ConversionState.failed, DispatchMode.queue, failed_chapter_2),
            (ConversionState.done, DispatchMode.queue, None),
        ]
        assert all(c.finished_at is not None for c in conversions)


failed_chapter_2 = "chapter 2 failed; replay or accept the book without chapter 2"


def test_a_failed_import_fails_its_conversion_with_the_reason(engine, project_id):
    with session_scope(engine) as session:
        repo.record_conversion(session, project_id, workflow_id="w", run_id="r")
        repo.follow_conversion(
            session, project_id, ProjectState.failed, error="no text", workflow_id="w", run_id="r"
        )
        (conversion,) = repo.list_conversions(session, project_id)
        assert (conversion.state, conversion.error) == (ConversionState.failed, "no text")


def test_unique_indexes_enforced(engine, project_id):
    with session_scope(engine) as session:
        chapter = repo.get_chapter(session, project_id, 1)
        chapter_id = chapter.id
    with pytest.raises(sa.exc.IntegrityError), session_scope(engine) as session:
        session.execute(
            sa.insert(Segment),
            [
                {
                    "chapter_id": chapter_id,
                    "project_id": project_id,
                    "index": 0,
                    "block_index": 0,
                    "text": "duplicate",
                    "text_hash": text_hash("duplicate"),
                    "status": SegmentStatus.pending,
                    "attempts": 0,
                }
            ],
        )


def test_foreign_keys_enforced_and_cascade(engine, project_id):
    with pytest.raises(sa.exc.IntegrityError), session_scope(engine) as session:
        session.execute(
            sa.text(
                'INSERT INTO chapter (project_id, "index", title, state, segment_count,'
                " done_count, failed_count, updated_at) VALUES (999, 1, 't', 'pending',"
                " 0, 0, 0, CURRENT_TIMESTAMP)"
            )
        )
    with engine.begin() as connection:
        connection.execute(sa.text("DELETE FROM project WHERE id = :id"), {"id": project_id})
        assert connection.execute(sa.text("SELECT count(*) FROM segment")).scalar_one() == 0
        assert connection.execute(sa.text("SELECT count(*) FROM chapter")).scalar_one() == 0


def test_session_scope_rolls_back_on_error(engine, project_id):
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        repo.set_project_state(session, project_id, ProjectState.running)
        raise RuntimeError("crash mid-transaction")
    with session_scope(engine) as session:
        assert repo.get_project(session, project_id).state is ProjectState.pending

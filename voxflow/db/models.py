"""The tables: Project → Chapter → Segment, plus one Conversion row per workflow run.

Indexes are chosen for a 60,000-segment book: page a chapter's segments by index, count
done/failed per chapter from the (chapter_id, status) index alone, find audio by text hash.
"""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from voxflow.db.types import UTCDateTime, str_enum, utcnow

# Named constraints let SQLite batch migrations alter them later ("constraint must have a name").
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class ProjectState(enum.StrEnum):
    """`attention`: a chapter failed and the workflow waits for a replay or an accept."""

    pending = "pending"
    importing = "importing"
    running = "running"
    attention = "attention"
    building = "building"
    done = "done"
    failed = "failed"
    cancelled = "cancelled"


class ChapterState(enum.StrEnum):
    pending = "pending"
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"
    skipped = "skipped"


class SegmentStatus(enum.StrEnum):
    pending = "pending"
    done = "done"
    failed = "failed"


class ConversionState(enum.StrEnum):
    running = "running"
    done = "done"
    failed = "failed"
    cancelled = "cancelled"


class DispatchMode(enum.StrEnum):
    direct = "direct"
    queue = "queue"


def _created() -> object:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


def _updated() -> object:
    return Field(
        default_factory=utcnow,
        sa_type=UTCDateTime,
        nullable=False,
        sa_column_kwargs={"onupdate": utcnow},
    )


class Project(SQLModel, table=True):
    """One uploaded document and the voice it is narrated with."""

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(sa_type=sa.Text)
    source_name: str = Field(sa_type=sa.String(255))
    source_format: str = Field(default="", sa_type=sa.String(16))
    voice: str = Field(sa_type=sa.String(100))
    model_version: str = Field(default="", sa_type=sa.String(50))
    output_format: str = Field(default="mp3", sa_type=sa.String(16))
    # Narrate EPUB front and back matter (imprint, colophon, ...) that import skips by default.
    include_front_matter: bool = False
    # ACX opening and closing credits as chapters of their own (voxflow.publishing.credits).
    acx_credits: bool = False
    # Speech QA (voxflow.qa): transcribe each new rendering and flag those that do not say
    # their text; up to `qa_retakes` automatic retakes of a flagged segment, the best one kept.
    speech_qa: bool = False
    qa_retakes: int = 0
    # Book metadata from the source (EPUB dc:creator, dc:date, dc:language; DOCX author), and
    # the cover the files carry, the user's (`--cover`) or the source's.
    author: str | None = Field(default=None, sa_type=sa.Text)
    year: str | None = Field(default=None, sa_type=sa.String(4))
    language: str | None = Field(default=None, sa_type=sa.String(35))
    cover_key: str | None = Field(default=None, sa_type=sa.String(1024))
    state: ProjectState = Field(default=ProjectState.pending, sa_type=str_enum(ProjectState))
    chapter_count: int = 0
    segment_count: int = 0
    duration_s: float | None = None
    book_key: str | None = Field(default=None, sa_type=sa.String(1024))
    manifest_key: str | None = Field(default=None, sa_type=sa.String(1024))
    read_along_key: str | None = Field(default=None, sa_type=sa.String(1024))  # EPUB 3
    error: str | None = Field(default=None, sa_type=sa.Text)
    created_at: datetime = _created()
    updated_at: datetime = _updated()


class Chapter(SQLModel, table=True):
    """A chapter's progress and outputs; `index` is the 1-based number users see."""

    __table_args__ = (sa.Index("ix_chapter_project_index", "project_id", "index", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", ondelete="CASCADE")
    index: int
    title: str = Field(sa_type=sa.Text)
    state: ChapterState = Field(default=ChapterState.pending, sa_type=str_enum(ChapterState))
    segment_count: int = 0
    done_count: int = 0
    failed_count: int = 0
    duration_s: float | None = None
    lufs: float | None = None
    audio_key: str | None = Field(default=None, sa_type=sa.String(1024))
    subtitle_key: str | None = Field(default=None, sa_type=sa.String(1024))
    workflow_id: str | None = Field(default=None, sa_type=sa.String(255))
    error: str | None = Field(default=None, sa_type=sa.Text)
    updated_at: datetime = _updated()


class Segment(SQLModel, table=True):
    """One sentence; `index` is 0-based within the chapter, audio lives under `audio_key`."""

    __table_args__ = (
        sa.Index("ix_segment_chapter_index", "chapter_id", "index", unique=True),
        sa.Index("ix_segment_chapter_status", "chapter_id", "status"),
        sa.Index("ix_segment_project_status", "project_id", "status"),
        sa.Index("ix_segment_text_hash", "text_hash"),
    )

    id: int | None = Field(default=None, primary_key=True)
    chapter_id: int = Field(foreign_key="chapter.id", ondelete="CASCADE")
    project_id: int = Field(foreign_key="project.id", ondelete="CASCADE")
    index: int
    block_index: int
    text: str = Field(sa_type=sa.Text)
    text_hash: str = Field(sa_type=sa.String(64))
    status: SegmentStatus = Field(default=SegmentStatus.pending, sa_type=str_enum(SegmentStatus))
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_type=sa.Text)
    audio_key: str | None = Field(default=None, sa_type=sa.String(1024))
    duration_s: float | None = None
    start_s: float | None = None
    end_s: float | None = None
    # Approved: the audio key frozen when the user approved this take. Later changes (lexicon,
    # voice parameters, a re-render) never replace it until the segment is unlocked.
    approved_key: str | None = Field(default=None, sa_type=sa.String(1024))
    take: int = 0  # which rendering of the text is wanted: "render again" asks for the next
    # The text as imported, kept when the user first edits it (None: never edited).
    source_text: str | None = Field(default=None, sa_type=sa.Text)


class SegmentTake(SQLModel, table=True):
    """A rendering a segment has had: its text and take number then, and its audio."""

    __table_args__ = (
        sa.Index("ix_segmenttake_segment_key", "segment_id", "audio_key", unique=True),
    )

    id: int | None = Field(default=None, primary_key=True)
    segment_id: int = Field(foreign_key="segment.id", ondelete="CASCADE")
    take: int = 0
    text: str = Field(sa_type=sa.Text)
    audio_key: str = Field(sa_type=sa.String(1024))
    created_at: datetime = _created()


class SegmentCheck(SQLModel, table=True):
    """Speech QA of one rendering (a segment's audio key): what the recogniser heard, the word
    error rate against the text the voice read, and why it is flagged ("" when it passes)."""

    __table_args__ = (
        sa.Index("ix_segmentcheck_segment_key", "segment_id", "audio_key", unique=True),
    )

    id: int | None = Field(default=None, primary_key=True)
    segment_id: int = Field(foreign_key="segment.id", ondelete="CASCADE")
    audio_key: str = Field(sa_type=sa.String(1024))
    take: int = 0  # the segment's take when this rendering was made
    expected: str = Field(sa_type=sa.Text)
    heard: str = Field(sa_type=sa.Text)
    wer: float
    missing: str = Field(default="", sa_type=sa.Text)  # space-separated words
    added: str = Field(default="", sa_type=sa.Text)
    reason: str = Field(default="", sa_type=sa.Text)
    recognizer: str = Field(sa_type=sa.String(100))
    created_at: datetime = _created()


class Conversion(SQLModel, table=True):
    """One start (or replay) of a project's workflow, for history and the Temporal UI link."""

    __table_args__ = (sa.Index("ix_conversion_project", "project_id"),)

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", ondelete="CASCADE")
    workflow_id: str = Field(sa_type=sa.String(255))
    run_id: str | None = Field(default=None, sa_type=sa.String(255))
    state: ConversionState = Field(
        default=ConversionState.running, sa_type=str_enum(ConversionState)
    )
    dispatch: DispatchMode = Field(default=DispatchMode.direct, sa_type=str_enum(DispatchMode))
    started_at: datetime = _created()
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    error: str | None = Field(default=None, sa_type=sa.Text)


SHARED_LEXICON = sa.text("project_id IS NULL")


class LexiconEntry(SQLModel, table=True):
    """One pronunciation rule; `project_id` None is the lexicon shared by every project."""

    __table_args__ = (
        sa.Index(
            "ix_lexiconentry_scope_term",
            "project_id",
            "term_key",
            "case_sensitive",
            unique=True,
        ),
        # NULLs never collide in a unique index (PostgreSQL and SQLite alike), so the shared
        # lexicon (project_id NULL) needs its own, partial one.
        sa.Index(
            "ix_lexiconentry_shared_term",
            "term_key",
            "case_sensitive",
            unique=True,
            sqlite_where=SHARED_LEXICON,
            postgresql_where=SHARED_LEXICON,
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    project_id: int | None = Field(
        default=None, foreign_key="project.id", ondelete="CASCADE", nullable=True
    )
    term: str = Field(sa_type=sa.String(200))
    term_key: str = Field(sa_type=sa.String(200))  # the term, case-folded unless case-sensitive
    replacement: str = Field(sa_type=sa.String(400))
    kind: str = Field(default="respell", sa_type=sa.String(16))
    case_sensitive: bool = False
    created_at: datetime = _created()

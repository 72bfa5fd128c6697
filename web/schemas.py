"""JSON shapes of the API (they are what /openapi.json documents), built from database rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from voxflow.conversion import temporal_ui_link
from voxflow.db.models import Chapter, Project, Segment
from voxflow.naming import chapter_workflow_id, project_workflow_id
from voxflow.registry import Voice
from voxflow.settings import Settings
from web.queries import Progress, ProjectView, SegmentPage


def same_named(row: object, *names: str) -> dict[str, Any]:
    """The attributes a shape shows under the row's own names; the rest are set by hand."""
    return {name: getattr(row, name) for name in names}


class VoiceOut(BaseModel):
    name: str
    version: str
    handler: str
    pool: str
    sample_rate: int
    max_chars: int
    description: str = ""

    @classmethod
    def of(cls, voice: Voice) -> VoiceOut:
        return cls(**same_named(voice, *cls.model_fields))


class ChapterPreview(BaseModel):
    index: int
    title: str
    blocks: int
    segments: int
    characters: int
    first_sentence: str


class SkippedPreview(BaseModel):
    """A source section that will not be narrated (EPUB front or back matter), and why."""

    file: str
    title: str
    reason: str


class Preview(BaseModel):
    """The parse result: what will be narrated, before any synthesis starts."""

    title: str
    source_format: str
    encoding: str | None = None
    segments: int
    chapters: list[ChapterPreview]
    skipped: list[SkippedPreview] = []


class TemporalStatus(BaseModel):
    available: bool
    message: str | None = None


class ProjectSummary(BaseModel):
    id: int
    title: str
    voice: str
    output_format: str
    state: str
    started: bool | None = None
    chapter_count: int
    segment_count: int
    done: int
    failed: int
    percent: float
    duration_s: float | None
    error: str | None
    created_at: datetime
    updated_at: datetime
    url: str
    page_url: str

    @classmethod
    def of(cls, project: Project, progress: Progress, started: bool | None = None):
        same = ("id", "title", "voice", "output_format", "chapter_count", "duration_s", "error")
        return cls(
            **same_named(project, *same, "created_at", "updated_at"),
            state=project.state.value,
            started=started,
            segment_count=progress.total or project.segment_count,
            done=progress.done,
            failed=progress.failed,
            percent=progress.percent,
            url=f"/api/projects/{project.id}",
            page_url=f"/projects/{project.id}",
        )


class ProjectList(BaseModel):
    items: list[ProjectSummary]
    next_before: int | None = None


class ChapterOut(BaseModel):
    index: int
    title: str
    state: str
    segment_count: int
    done: int
    failed: int
    percent: float
    duration_s: float | None
    lufs: float | None
    error: str | None
    workflow_id: str
    temporal_url: str
    audio_url: str | None
    subtitles_url: str | None
    segments_url: str
    updated_at: datetime

    @classmethod
    def of(cls, settings: Settings, chapter: Chapter) -> ChapterOut:
        base = f"/api/projects/{chapter.project_id}/chapters/{chapter.index}"
        workflow_id = chapter.workflow_id or chapter_workflow_id(chapter.project_id, chapter.index)
        progress = Progress(chapter.segment_count, chapter.done_count, chapter.failed_count)
        same = ("index", "title", "segment_count", "duration_s", "lufs", "error", "updated_at")
        return cls(
            **same_named(chapter, *same),
            state=chapter.state.value,
            done=chapter.done_count,
            failed=chapter.failed_count,
            percent=progress.percent,
            workflow_id=workflow_id,
            temporal_url=temporal_ui_link(settings, workflow_id),
            audio_url=f"{base}/audio" if chapter.audio_key else None,
            subtitles_url=f"{base}/subtitles" if chapter.subtitle_key else None,
            segments_url=f"{base}/segments",
        )


class ProjectDetail(ProjectSummary):
    source_name: str
    source_format: str
    model_version: str
    workflow_id: str
    temporal_url: str
    temporal: TemporalStatus
    book_url: str | None
    read_along_url: str | None = None
    manifest_url: str | None
    events_url: str
    chapters: list[ChapterOut]
    preview: Preview | None = None

    @classmethod
    def build(
        cls,
        settings: Settings,
        view: ProjectView,
        temporal: TemporalStatus,
        preview: dict | None = None,
    ) -> ProjectDetail:
        p = view.project
        summary = ProjectSummary.of(p, view.progress, view.started)
        base = f"/api/projects/{p.id}"
        workflow_id = project_workflow_id(p.id)
        return cls(
            **summary.model_dump(),
            **same_named(p, "source_name", "source_format", "model_version"),
            workflow_id=workflow_id,
            temporal_url=temporal_ui_link(settings, workflow_id),
            temporal=temporal,
            book_url=f"{base}/book" if p.book_key else None,
            read_along_url=f"{base}/read-along" if p.read_along_key else None,
            manifest_url=f"{base}/manifest" if p.manifest_key else None,
            events_url=f"{base}/events",
            chapters=[ChapterOut.of(settings, c) for c in view.chapters],
            preview=Preview(**preview) if preview else None,
        )


class SegmentOut(BaseModel):
    index: int
    block_index: int
    text: str
    status: str
    attempts: int
    error: str | None
    duration_s: float | None
    start_s: float | None
    end_s: float | None
    audio_url: str | None
    approved: bool = False

    @classmethod
    def of(cls, project_id: int, chapter_index: int, segment: Segment) -> SegmentOut:
        url = (
            f"/api/projects/{project_id}/chapters/{chapter_index}/segments/{segment.index}/audio"
            if segment.audio_key
            else None
        )
        same = ("index", "block_index", "text", "attempts", "duration_s", "start_s", "end_s")
        return cls(
            **same_named(segment, *same),
            approved=segment.approved_key is not None,
            status=segment.status.value,
            error=segment.last_error,
            audio_url=url,
        )


class SegmentList(BaseModel):
    """One page in reading order; pass `next_start` back as `start` for the next page."""

    chapter: int
    start: int
    limit: int
    status: str | None
    total: int
    items: list[SegmentOut]
    next_start: int | None
    prev_start: int | None
    last_start: int | None

    @classmethod
    def of(cls, project_id: int, chapter: Chapter, page: SegmentPage, status: str | None):
        return cls(
            **same_named(page, "start", "limit", "next_start", "prev_start", "last_start"),
            chapter=chapter.index,
            status=status,
            total=chapter.segment_count,
            items=[SegmentOut.of(project_id, chapter.index, s) for s in page.rows],
        )


class ActionOut(BaseModel):
    project_id: int
    state: str
    message: str
    workflow_id: str | None = None
    temporal_url: str | None = None


class Health(BaseModel):
    database: bool
    temporal: TemporalStatus


class ErrorOut(BaseModel):
    """Every 4xx/5xx answer: one line that says what was wrong and what to do."""

    detail: str


class FieldError(BaseModel):
    loc: list[str]
    msg: str


class ValidationErrorOut(ErrorOut):
    errors: list[FieldError]

"""JSON shapes of the API (they are what /openapi.json documents), built from database rows."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from voxflow.conversion import temporal_ui_link
from voxflow.db.models import Chapter, Project, Segment
from voxflow.naming import chapter_workflow_id, project_workflow_id
from voxflow.registry import Voice
from voxflow.settings import Settings
from web.queries import Progress, ProjectView, SegmentPage


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
        return cls(
            name=voice.name,
            version=voice.version,
            handler=voice.handler,
            pool=voice.pool,
            sample_rate=voice.sample_rate,
            max_chars=voice.max_chars,
            description=voice.description,
        )


class ChapterPreview(BaseModel):
    index: int
    title: str
    blocks: int
    segments: int
    characters: int
    first_sentence: str


class Preview(BaseModel):
    """The parse result: what will be narrated, before any synthesis starts."""

    title: str
    source_format: str
    encoding: str | None = None
    segments: int
    chapters: list[ChapterPreview]


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
        return cls(
            id=project.id,
            title=project.title,
            voice=project.voice,
            output_format=project.output_format,
            state=project.state.value,
            started=started,
            chapter_count=project.chapter_count,
            segment_count=progress.total or project.segment_count,
            done=progress.done,
            failed=progress.failed,
            percent=progress.percent,
            duration_s=project.duration_s,
            error=project.error,
            created_at=project.created_at,
            updated_at=project.updated_at,
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
        return cls(
            index=chapter.index,
            title=chapter.title,
            state=chapter.state.value,
            segment_count=chapter.segment_count,
            done=chapter.done_count,
            failed=chapter.failed_count,
            percent=progress.percent,
            duration_s=chapter.duration_s,
            lufs=chapter.lufs,
            error=chapter.error,
            workflow_id=workflow_id,
            temporal_url=temporal_ui_link(settings, workflow_id),
            audio_url=f"{base}/audio" if chapter.audio_key else None,
            subtitles_url=f"{base}/subtitles" if chapter.subtitle_key else None,
            segments_url=f"{base}/segments",
            updated_at=chapter.updated_at,
        )


class ProjectDetail(ProjectSummary):
    source_name: str
    source_format: str
    model_version: str
    workflow_id: str
    temporal_url: str
    temporal: TemporalStatus
    book_url: str | None
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
            source_name=p.source_name,
            source_format=p.source_format,
            model_version=p.model_version,
            workflow_id=workflow_id,
            temporal_url=temporal_ui_link(settings, workflow_id),
            temporal=temporal,
            book_url=f"{base}/book" if p.book_key else None,
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

    @classmethod
    def of(cls, project_id: int, chapter_index: int, segment: Segment) -> SegmentOut:
        url = (
            f"/api/projects/{project_id}/chapters/{chapter_index}/segments/{segment.index}/audio"
            if segment.audio_key
            else None
        )
        return cls(
            index=segment.index,
            block_index=segment.block_index,
            text=segment.text,
            status=segment.status.value,
            attempts=segment.attempts,
            error=segment.last_error,
            duration_s=segment.duration_s,
            start_s=segment.start_s,
            end_s=segment.end_s,
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
            chapter=chapter.index,
            start=page.start,
            limit=page.limit,
            status=status,
            total=chapter.segment_count,
            items=[SegmentOut.of(project_id, chapter.index, s) for s in page.rows],
            next_start=page.next_start,
            prev_start=page.prev_start,
            last_start=page.last_start,
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

"""JSON shapes of the API (they are what /openapi.json documents), built from database rows."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from voxflow.conversion import temporal_ui_link
from voxflow.db.models import Chapter, Project, Segment, SegmentCheck, SegmentTake
from voxflow.naming import chapter_workflow_id, project_workflow_id
from voxflow.registry import Voice
from voxflow.settings import Settings
from web.queries import Progress, ProjectView, SegmentFilter, SegmentPage


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
    speech_qa: bool = False
    qa_retakes: int = 0
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
            **same_named(project, *same, "speech_qa", "qa_retakes", "created_at", "updated_at"),
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
    qa_report_url: str | None = None
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
        qa_report: bool = False,
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
            qa_report_url=f"{base}/qa-report" if qa_report else None,
            events_url=f"{base}/events",
            chapters=[ChapterOut.of(settings, c) for c in view.chapters],
            preview=Preview(**preview) if preview else None,
        )


def audio_version(key: str) -> str:
    """A short digest of an audio key: segment audio URLs carry it, so a new take is a new
    URL and no browser plays the old one from its cache."""
    return hashlib.sha256(key.encode()).hexdigest()[:12]


class SegmentQa(BaseModel):
    """Speech QA of the audio a segment uses now: what the recogniser heard and the verdict."""

    wer: float
    heard: str
    reason: str
    flagged: bool
    missing: list[str]
    added: list[str]

    @classmethod
    def of(cls, check: SegmentCheck) -> SegmentQa:
        return cls(
            **same_named(check, "wer", "heard", "reason"),
            flagged=bool(check.reason),
            missing=check.missing.split(),
            added=check.added.split(),
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
    take: int = 0
    edited: bool = False
    source_text: str | None = None
    # The audio is from older text or an earlier take: the next render replaces it.
    stale: bool = False
    qa: SegmentQa | None = None

    @classmethod
    def of(
        cls,
        project_id: int,
        chapter_index: int,
        segment: Segment,
        check: SegmentCheck | None = None,
        made: SegmentTake | None = None,
    ) -> SegmentOut:
        """`check` is the QA of its current audio, `made` the take that audio was made as."""
        base = f"/api/projects/{project_id}/chapters/{chapter_index}/segments/{segment.index}"
        key = segment.audio_key
        url = f"{base}/audio?v={audio_version(key)}" if key else None
        same = ("index", "block_index", "text", "attempts", "duration_s", "start_s", "end_s")
        approved = segment.approved_key is not None
        stale = made is not None and (made.text != segment.text or made.take != segment.take)
        return cls(
            **same_named(segment, *same, "take", "source_text"),
            approved=approved,
            edited=segment.source_text is not None and segment.source_text != segment.text,
            stale=stale and not approved,
            status=segment.status.value,
            error=segment.last_error,
            audio_url=url,
            qa=SegmentQa.of(check) if check is not None else None,
        )


class SegmentList(BaseModel):
    """One page in reading order; pass `next_start` back as `start` for the next page."""

    chapter: int
    start: int
    limit: int
    status: str | None
    flagged: bool | None = None
    edited: bool | None = None
    approved: bool | None = None
    total: int
    items: list[SegmentOut]
    next_start: int | None
    prev_start: int | None
    last_start: int | None

    @classmethod
    def of(
        cls,
        project_id: int,
        chapter: Chapter,
        page: SegmentPage,
        where: SegmentFilter,
        checks: dict[int, SegmentCheck],
        made: dict[int, SegmentTake],
    ) -> SegmentList:
        """`checks` and `made` by segment id, as queries.page_extras reads them for a page."""
        return cls(
            **same_named(page, "start", "limit", "next_start", "prev_start", "last_start"),
            **same_named(where, "flagged", "edited", "approved"),
            chapter=chapter.index,
            status=where.status.value if where.status else None,
            total=chapter.segment_count,
            items=[
                SegmentOut.of(project_id, chapter.index, s, checks.get(s.id), made.get(s.id))
                for s in page.rows
            ],
        )


class TakeOut(BaseModel):
    """One rendering in a segment's history, with the speech QA of its audio if checked."""

    number: int
    take: int
    text: str
    created_at: datetime
    in_use: bool
    audio_url: str
    wer: float | None = None
    reason: str | None = None
    heard: str | None = None


class QaHistogramBucket(BaseModel):
    low: float
    high: float | None
    count: int


class QaSpread(BaseModel):
    """Word error rates over some segments: median, 90th percentile, max and a histogram."""

    count: int
    median: float | None
    p90: float | None
    max: float | None
    histogram: list[QaHistogramBucket]


class QaFlagged(BaseModel):
    index: int
    expected: str
    heard: str
    wer: float
    missing: list[str]
    added: list[str]
    flagged: bool
    reason: str


class QaAcx(BaseModel):
    passed: bool
    problems: list[str]


class QaChapter(BaseModel):
    index: int
    title: str
    segments: int
    flagged_count: int
    flagged: list[QaFlagged]
    wer: QaSpread
    acx: QaAcx | None = None


class QaReport(BaseModel):
    """The book's speech-QA report, as the book step stored it (voxflow.qa.report)."""

    title: str
    recognizer: str
    segments: int
    flagged_count: int
    wer: QaSpread
    chapters: list[QaChapter]


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

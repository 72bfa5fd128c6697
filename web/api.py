"""The JSON API (documented at /docs and /openapi.json); it mirrors what the pages do."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Form, Path, Query, UploadFile
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from voxflow.conversion import temporal_ui_link
from voxflow.db import repository, session_scope
from voxflow.db.models import SegmentStatus
from voxflow.errors import InputError
from voxflow.naming import chapter_workflow_id, slugify
from web import queries, service
from web.deps import Ctx, require_api
from web.downloads import artifact_response
from web.schemas import (
    ActionOut,
    ChapterOut,
    ErrorOut,
    Health,
    Preview,
    ProjectDetail,
    ProjectList,
    ProjectSummary,
    SegmentList,
    TemporalStatus,
    ValidationErrorOut,
    VoiceOut,
)

MAX_ID = 2_147_483_647  # PostgreSQL integer columns
ProjectId = Annotated[int, Path(ge=1, le=MAX_ID, description="Project id")]
ChapterIndex = Annotated[int, Path(ge=1, le=1_000_000, description="Chapter number (from 1)")]
SegmentIndex = Annotated[int, Path(ge=0, le=MAX_ID, description="Segment number (from 0)")]
OutputFormat = Literal["mp3", "wav", "ogg"]
TextFormat = Literal["markdown", "text"]

ERRORS = {
    400: {"model": ErrorOut, "description": "Bad input; `detail` says why"},
    401: {"model": ErrorOut, "description": "Missing or wrong API token (when auth is on)"},
    403: {"model": ErrorOut, "description": "Cross-site request, or a missing CSRF token"},
    404: {"model": ErrorOut, "description": "No such project, chapter, segment or artifact"},
    422: {"model": ValidationErrorOut, "description": "A parameter is out of range or malformed"},
}
UPLOAD_ERRORS = {
    413: {"model": ErrorOut, "description": "Upload over VOXFLOW_MAX_UPLOAD_BYTES"},
    415: {"model": ErrorOut, "description": "Not a TXT, Markdown, EPUB or DOCX document"},
}
router = APIRouter(prefix="/api", dependencies=[Depends(require_api)], responses=ERRORS)


async def temporal_status(ctx: Ctx) -> TemporalStatus:
    available, message = await ctx.gateway.available()
    return TemporalStatus(available=available, message=message)


async def read_input(
    ctx: Ctx, file: UploadFile | None, text: str | None, text_format: str, title: str | None
) -> tuple[bytes, str]:
    """The uploaded file, or pasted text under a safe name; exactly one of them."""
    has_file = file is not None and bool(file.filename)
    if has_file and text:
        raise InputError("send a file or pasted text, not both")
    if has_file:
        data = await file.read(ctx.settings.max_upload_bytes + 1)
        return data, service.safe_filename(file.filename)
    if text and text.strip():
        extension = "md" if text_format == "markdown" else "txt"
        name = slugify(title or "pasted text", 60)
        return text.encode("utf-8", "replace"), f"{name}.{extension}"
    raise InputError("choose a file to upload or paste some text")


def _voice(ctx: Ctx, voice: str | None) -> str:
    name = voice or ctx.settings.default_voice
    return ctx.registry.get(name).name  # ConfigError (400) names the known voices


@router.get("/health", response_model=Health, summary="Database and Temporal reachability")
async def health(ctx: Ctx) -> Health:
    def ping() -> bool:
        try:
            with ctx.engine.connect() as connection:
                connection.exec_driver_sql("SELECT 1")
            return True
        except Exception:
            return False

    return Health(database=await run_in_threadpool(ping), temporal=await temporal_status(ctx))


@router.get("/voices", response_model=list[VoiceOut], summary="Voices in the model registry")
def voices(ctx: Ctx) -> list[VoiceOut]:
    return [VoiceOut.of(v) for v in ctx.registry.voices]


@router.post(
    "/parse",
    response_model=Preview,
    summary="Preview how a document will be split, without storing anything",
    responses=UPLOAD_ERRORS,
)
async def parse(
    ctx: Ctx,
    file: Annotated[UploadFile | None, File(description="TXT, Markdown, EPUB or DOCX")] = None,
    text: Annotated[str | None, Form(description="Pasted text instead of a file")] = None,
    text_format: Annotated[TextFormat, Form()] = "markdown",
    title: Annotated[str | None, Form(max_length=200)] = None,
    voice: Annotated[str | None, Form(max_length=100)] = None,
) -> Preview:
    data, name = await read_input(ctx, file, text, text_format, title)
    voice_name = _voice(ctx, voice)
    document = await run_in_threadpool(service.parse_document, ctx.settings, data, name, voice_name)
    return Preview(**service.preview_of(document))


@router.post(
    "/projects",
    response_model=ProjectDetail,
    status_code=201,
    summary="Create a project from an upload (multipart) or pasted text; optionally start it",
    responses={
        **UPLOAD_ERRORS,
        503: {"model": ErrorOut, "description": "start=true and Temporal is unavailable"},
    },
)
async def create_project(
    ctx: Ctx,
    file: Annotated[UploadFile | None, File(description="TXT, Markdown, EPUB or DOCX")] = None,
    text: Annotated[str | None, Form(description="Pasted text instead of a file")] = None,
    text_format: Annotated[TextFormat, Form()] = "markdown",
    title: Annotated[str | None, Form(max_length=200)] = None,
    voice: Annotated[str | None, Form(max_length=100)] = None,
    output_format: Annotated[OutputFormat | None, Form()] = None,
    start: Annotated[bool, Form(description="Start the conversion at once")] = False,
) -> ProjectDetail:
    data, name = await read_input(ctx, file, text, text_format, title)
    voice_name = _voice(ctx, voice)
    if start:
        await ctx.gateway.client()  # 503 before anything is stored
    project_id, preview = await run_in_threadpool(
        service.create_pending,
        ctx.settings,
        ctx.engine,
        ctx.store,
        data,
        name,
        voice=voice_name,
        output_format=output_format or ctx.settings.output_format,
    )
    if start:
        await service.start(ctx.settings, ctx.engine, ctx.gateway, project_id)
    view = await run_in_threadpool(_view, ctx, project_id)
    return ProjectDetail.build(ctx.settings, view, await temporal_status(ctx), preview)


def _view(ctx: Ctx, project_id: int) -> queries.ProjectView:
    with session_scope(ctx.engine) as session:
        return queries.project_view(session, project_id)


@router.get("/projects", response_model=ProjectList, summary="Projects, newest first")
def list_projects(
    ctx: Ctx,
    before: Annotated[int | None, Query(ge=1, le=MAX_ID, description="Page key")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ProjectList:
    with session_scope(ctx.engine) as session:
        rows, progress, next_before = queries.list_projects(session, before=before, limit=limit)
    return ProjectList(
        items=[ProjectSummary.of(p, progress[p.id]) for p in rows], next_before=next_before
    )


@router.get(
    "/projects/{project_id}",
    response_model=ProjectDetail,
    summary="A project's status: state, progress per chapter, outputs and Temporal links",
)
async def project_status(ctx: Ctx, project_id: ProjectId) -> ProjectDetail:
    view = await run_in_threadpool(_view, ctx, project_id)
    preview = None
    if not view.project.chapter_count:
        preview = await run_in_threadpool(service.load_preview, ctx.store, project_id)
    return ProjectDetail.build(ctx.settings, view, await temporal_status(ctx), preview)


def _action(ctx: Ctx, result: service.ActionResult) -> ActionOut:
    workflow_id = result.workflow_id
    return ActionOut(
        project_id=result.project_id,
        state=result.state,
        message=result.message,
        workflow_id=workflow_id,
        temporal_url=temporal_ui_link(ctx.settings, workflow_id) if workflow_id else None,
    )


ACTION_ERRORS = {
    409: {"model": ErrorOut, "description": "The project's state does not allow this"},
    503: {"model": ErrorOut, "description": "Temporal is unavailable"},
}


@router.post(
    "/projects/{project_id}/start",
    response_model=ActionOut,
    status_code=202,
    summary="Start a created project's conversion",
    responses=ACTION_ERRORS,
)
async def start_project(ctx: Ctx, project_id: ProjectId) -> ActionOut:
    return _action(ctx, await service.start(ctx.settings, ctx.engine, ctx.gateway, project_id))


@router.post(
    "/projects/{project_id}/cancel",
    response_model=ActionOut,
    status_code=202,
    summary="Cancel a project's conversion",
    responses=ACTION_ERRORS,
)
async def cancel_project(ctx: Ctx, project_id: ProjectId) -> ActionOut:
    return _action(ctx, await service.cancel(ctx.settings, ctx.engine, ctx.gateway, project_id))


@router.get(
    "/projects/{project_id}/chapters",
    response_model=list[ChapterOut],
    summary="A project's chapters with live progress",
)
def list_chapters(ctx: Ctx, project_id: ProjectId) -> list[ChapterOut]:
    with session_scope(ctx.engine) as session:
        chapters = repository.list_chapters(session, project_id)
    return [ChapterOut.of(ctx.settings, c) for c in chapters]


@router.get(
    "/projects/{project_id}/chapters/{index}", response_model=ChapterOut, summary="One chapter"
)
def get_chapter(ctx: Ctx, project_id: ProjectId, index: ChapterIndex) -> ChapterOut:
    with session_scope(ctx.engine) as session:
        chapter = repository.get_chapter(session, project_id, index)
    return ChapterOut.of(ctx.settings, chapter)


@router.get(
    "/projects/{project_id}/chapters/{index}/segments",
    response_model=SegmentList,
    summary="A page of a chapter's segments in reading order (keyset: index >= start)",
)
def list_segments(
    ctx: Ctx,
    project_id: ProjectId,
    index: ChapterIndex,
    start: Annotated[int, Query(ge=0, le=MAX_ID, description="First segment index")] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    status: Annotated[SegmentStatus | None, Query()] = None,
) -> SegmentList:
    with session_scope(ctx.engine) as session:
        chapter = repository.get_chapter(session, project_id, index)
        page = queries.segment_page(session, chapter.id, start=start, limit=limit, status=status)
    return SegmentList.of(project_id, chapter, page, status.value if status else None)


@router.post(
    "/projects/{project_id}/chapters/{index}/replay",
    response_model=ActionOut,
    status_code=202,
    summary="Run a failed chapter again (the other chapters are not redone)",
    responses=ACTION_ERRORS,
)
async def replay_chapter(ctx: Ctx, project_id: ProjectId, index: ChapterIndex) -> ActionOut:
    message = await service.replay(ctx.engine, ctx.gateway, project_id, index)
    workflow_id = chapter_workflow_id(project_id, index)
    return _action(ctx, service.ActionResult(project_id, "running", message, workflow_id))


AUDIO = ("audio/mpeg", "audio/wav", "audio/ogg")
BINARY = {"type": "string", "format": "binary"}


def file_responses(*media_types: str) -> dict:
    """The documented answers of a download: whole file, a byte range, or a bad range."""
    content = {
        media_type: {"schema": {"type": "object"} if media_type.endswith("json") else BINARY}
        for media_type in media_types
    }
    return {
        200: {"description": "The whole file", "content": content},
        206: {"description": "The requested byte range (Range: bytes=a-b)", "content": content},
        400: {"model": ErrorOut, "description": "Malformed Range header"},
        416: {"description": "Range not satisfiable", "content": {"text/plain": {}}},
    }


Download = Annotated[bool, Query(description="As an attachment rather than inline")]


def _chapter_file(ctx: Ctx, project_id: int, index: int, attr: str, what: str, download: bool):
    with session_scope(ctx.engine) as session:
        chapter = repository.get_chapter(session, project_id, index)
    return artifact_response(ctx.store, getattr(chapter, attr), what=what, download=download)


@router.get(
    "/projects/{project_id}/chapters/{index}/audio",
    summary="A chapter's audio (seekable: HTTP Range)",
    response_class=Response,
    responses=file_responses(*AUDIO),
)
def chapter_audio(
    ctx: Ctx, project_id: ProjectId, index: ChapterIndex, download: Download = False
) -> Response:
    return _chapter_file(ctx, project_id, index, "audio_key", "chapter audio", download)


@router.get(
    "/projects/{project_id}/chapters/{index}/subtitles",
    summary="A chapter's WebVTT subtitles",
    response_class=Response,
    responses=file_responses("text/vtt"),
)
def chapter_subtitles(
    ctx: Ctx, project_id: ProjectId, index: ChapterIndex, download: Download = False
) -> Response:
    return _chapter_file(ctx, project_id, index, "subtitle_key", "chapter subtitles", download)


@router.get(
    "/projects/{project_id}/chapters/{index}/segments/{segment}/audio",
    summary="One segment's audio",
    response_class=Response,
    responses=file_responses("audio/wav"),
)
def segment_audio(
    ctx: Ctx,
    project_id: ProjectId,
    index: ChapterIndex,
    segment: SegmentIndex,
    download: Download = False,
) -> Response:
    with session_scope(ctx.engine) as session:
        chapter = repository.get_chapter(session, project_id, index)
        row = queries.get_segment(session, chapter.id, segment)
    if row is None:
        raise repository.NotFound(
            f"chapter {index} of project {project_id} has no segment {segment}"
        )
    return artifact_response(ctx.store, row.audio_key, what="segment audio", download=download)


def _project_file(ctx: Ctx, project_id: int, attr: str, what: str, download: bool) -> Response:
    with session_scope(ctx.engine) as session:
        project = repository.get_project(session, project_id)
    return artifact_response(ctx.store, getattr(project, attr), what=what, download=download)


@router.get(
    "/projects/{project_id}/book",
    summary="The whole book as M4B with chapter markers",
    response_class=Response,
    responses=file_responses("audio/mp4"),
)
def book(ctx: Ctx, project_id: ProjectId, download: Download = True) -> Response:
    return _project_file(ctx, project_id, "book_key", "book", download)


@router.get(
    "/projects/{project_id}/manifest",
    summary="manifest.json: every sentence's start and end time",
    response_class=Response,
    responses=file_responses("application/json"),
)
def manifest(ctx: Ctx, project_id: ProjectId, download: Download = False) -> Response:
    return _project_file(ctx, project_id, "manifest_key", "manifest", download)

"""Projects: preview a document's split, create, list, read, start and cancel."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, File, Form, Query, UploadFile
from starlette.concurrency import run_in_threadpool

from voxflow.db import session_scope
from web import queries, service
from web.deps import (
    MAX_ID,
    Ctx,
    OutputFormat,
    ProjectId,
    QaRetakes,
    TextFormat,
    project_view,
    temporal_status,
)
from web.routes.common import ACTION, action_out, api_router
from web.schemas import ActionOut, ErrorOut, Preview, ProjectDetail, ProjectList, ProjectSummary
from web.uploads import DocumentForm, create_pending

UPLOAD_ERRORS = {
    413: {"model": ErrorOut, "description": "Upload over VOXFLOW_MAX_UPLOAD_BYTES"},
    415: {"model": ErrorOut, "description": "Not a TXT, Markdown, EPUB or DOCX document"},
}
router = api_router()


async def document_form(
    file: Annotated[UploadFile | None, File(description="TXT, Markdown, EPUB or DOCX")] = None,
    text: Annotated[str | None, Form(description="Pasted text instead of a file")] = None,
    text_format: Annotated[TextFormat, Form()] = "markdown",
    title: Annotated[str | None, Form(max_length=200)] = None,
    voice: Annotated[str | None, Form(max_length=100)] = None,
    include_front_matter: Annotated[
        bool, Form(description="Narrate EPUB front and back matter skipped by default")
    ] = False,
    acx_credits: Annotated[
        bool, Form(description="Narrate ACX opening and closing credits as chapters of their own")
    ] = False,
    speech_qa: Annotated[
        bool, Form(description="Check each rendering with speech recognition; flag mismatches")
    ] = False,
    qa_retakes: Annotated[
        QaRetakes, Form(description="With speech_qa: automatic retakes of a flagged segment")
    ] = 0,
) -> DocumentForm:
    """The document fields of parse and create, declared (and documented) once."""
    return DocumentForm(
        file, text, text_format, title, voice, include_front_matter, acx_credits,
        speech_qa, qa_retakes,
    )  # fmt: skip


Document = Annotated[DocumentForm, Depends(document_form)]


@router.post(
    "/parse",
    response_model=Preview,
    summary="Preview how a document will be split, without storing anything",
    responses=UPLOAD_ERRORS,
)
async def parse(ctx: Ctx, form: Document) -> Preview:
    upload = await form.read(ctx)
    document = await run_in_threadpool(service.parse_document, ctx.settings, upload)
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
    form: Document,
    output_format: Annotated[OutputFormat | None, Form()] = None,
    start: Annotated[bool, Form(description="Start the conversion at once")] = False,
) -> ProjectDetail:
    upload = await form.read(ctx)
    if start:
        await ctx.gateway.client()  # 503 before anything is stored
    project_id, preview = await create_pending(ctx, upload, output_format)
    if start:
        await service.start(ctx.settings, ctx.engine, ctx.gateway, project_id)
    view = await project_view(ctx, project_id)
    return ProjectDetail.build(ctx.settings, view, await temporal_status(ctx), preview)


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
    view = await project_view(ctx, project_id)
    preview = None
    if not view.project.chapter_count:
        preview = await run_in_threadpool(service.load_preview, ctx.store, project_id)
    report = await run_in_threadpool(service.has_qa_report, ctx.store, project_id)
    return ProjectDetail.build(ctx.settings, view, await temporal_status(ctx), preview, report)


@router.post(
    "/projects/{project_id}/start", summary="Start a created project's conversion", **ACTION
)
async def start_project(ctx: Ctx, project_id: ProjectId) -> ActionOut:
    return action_out(ctx, await service.start(ctx.settings, ctx.engine, ctx.gateway, project_id))


@router.post("/projects/{project_id}/cancel", summary="Cancel a project's conversion", **ACTION)
async def cancel_project(ctx: Ctx, project_id: ProjectId) -> ActionOut:
    return action_out(ctx, await service.cancel(ctx.settings, ctx.engine, ctx.gateway, project_id))

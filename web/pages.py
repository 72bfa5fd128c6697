"""The HTML pages: projects, new project (with parse preview), project, chapter, login.

Server-rendered with Jinja2; a little plain JS (static/app.js) applies the live updates.
Every form carries the CSRF token, and actions redirect back (303) when they succeed.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Annotated, Literal
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from voxflow.conversion import temporal_ui_link
from voxflow.db import repository, session_scope
from voxflow.db.models import Chapter, Project, SegmentStatus
from voxflow.errors import VoxflowError
from voxflow.lexicon import Entry, Kind
from voxflow.lexicon import store as lexicon_store
from voxflow.naming import project_workflow_id
from voxflow.qa import store as qa_store
from voxflow.qa.choice import MAX_RETAKES
from web import queries, service
from web.deps import (
    MAX_ID,
    ChapterIndex,
    Ctx,
    OutputFormat,
    ProjectId,
    QaRetakes,
    TextFormat,
    project_view,
    require_page,
    temporal_status,
)
from web.errors import status_for
from web.routes.chapters import read_segments
from web.schemas import ChapterOut, SegmentOut
from web.security import (
    auth_required,
    check_csrf_token,
    check_origin,
    client_address,
    login_refusal,
    session_user,
)
from web.throttle import THROTTLED, LoginThrottle, in_words, log_failed_login
from web.uploads import DocumentForm, create_pending

router = APIRouter(dependencies=[Depends(require_page)], include_in_schema=False)
public = APIRouter(include_in_schema=False)

PAGE_SIZES = (50, 100, 200, 500)
Show = Literal["all", "flagged", "edited", "approved"]
# The chapter editor's row template (static/studio.js fills a copy for a row it adds).
BLANK_ROW = SegmentOut(
    index=0, block_index=0, text="", status="pending", attempts=0, error=None,
    duration_s=None, start_s=None, end_s=None, audio_url=None,
)  # fmt: skip
SHOWS = {
    "all": "all segments",
    "flagged": "flagged by speech QA",
    "edited": "edited",
    "approved": "approved",
}
CsrfField = Annotated[str | None, Form(alias="csrf_token")]


async def render(
    request: Request, ctx: Ctx, template: str, status_code: int = 200, **values
) -> HTMLResponse:
    values.setdefault("temporal", await temporal_status(ctx))
    return ctx.templates.TemplateResponse(
        request,
        template,
        {
            "csrf_token": request.scope["state"]["csrf_token"],
            "user": session_user(request),
            "auth": auth_required(ctx.settings),
            **values,
        },
        status_code=status_code,
    )


def _chapters(ctx: Ctx, view: queries.ProjectView) -> list[ChapterOut]:
    return [ChapterOut.of(ctx.settings, c) for c in view.chapters]


def _flagged(ctx: Ctx, project: Project, chapters: list[Chapter]) -> dict[int, int]:
    """Flagged segments per chapter index, for the chapter cards' "review" links; only where
    speech QA is on (the count looks at every segment: 20 ms for 60,000 on SQLite)."""
    if not project.speech_qa:
        return {}
    with session_scope(ctx.engine) as session:
        counts = qa_store.flagged_counts(session, [c.id for c in chapters])
    return {c.index: counts[c.id] for c in chapters if c.id in counts}


@router.get("/", response_class=HTMLResponse)
async def projects_page(
    request: Request,
    ctx: Ctx,
    before: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> HTMLResponse:
    def load():
        with session_scope(ctx.engine) as session:
            return queries.list_projects(session, before=before, limit=50)

    rows, progress, next_before = await run_in_threadpool(load)
    return await render(
        request, ctx, "projects.html", projects=rows, progress=progress, next_before=next_before
    )


async def _new_form(request: Request, ctx: Ctx, status_code: int = 200, **values):
    values.setdefault("form", {})
    return await render(
        request,
        ctx,
        "new.html",
        status_code=status_code,
        voices=ctx.registry.voices,
        default_voice=ctx.settings.default_voice,
        default_format=ctx.settings.output_format,
        max_qa_retakes=MAX_RETAKES,
        **values,
    )


@router.get("/projects/new", response_class=HTMLResponse)
async def new_project_page(request: Request, ctx: Ctx) -> HTMLResponse:
    return await _new_form(request, ctx)


@router.post("/projects/new", response_class=HTMLResponse)
async def new_project(
    request: Request,
    ctx: Ctx,
    csrf: CsrfField = None,
    file: Annotated[UploadFile | None, File()] = None,
    text: Annotated[str | None, Form()] = None,
    text_format: Annotated[TextFormat, Form()] = "markdown",
    title: Annotated[str | None, Form(max_length=200)] = None,
    voice: Annotated[str | None, Form(max_length=100)] = None,
    output_format: Annotated[OutputFormat | None, Form()] = None,
    include_front_matter: Annotated[bool, Form()] = False,
    acx_credits: Annotated[bool, Form()] = False,
    speech_qa: Annotated[bool, Form()] = False,
    qa_retakes: Annotated[QaRetakes, Form()] = 0,
) -> Response:
    check_csrf_token(request, csrf)
    form = {"text": text or "", "text_format": text_format, "title": title or "", "voice": voice}
    form.update(
        output_format=output_format,
        include_front_matter=include_front_matter,
        acx_credits=acx_credits,
        speech_qa=speech_qa,
        qa_retakes=qa_retakes,
    )
    try:
        document = DocumentForm(
            file, text, text_format, title, voice, include_front_matter, acx_credits,
            speech_qa, qa_retakes,
        )  # fmt: skip
        upload = await document.read(ctx)
        project_id, _ = await create_pending(ctx, upload, output_format)
    except VoxflowError as error:
        return await _new_form(
            request, ctx, status_code=status_for(error), error=str(error), form=form
        )
    return RedirectResponse(f"/projects/{project_id}", status_code=303)


@router.get("/projects/{project_id}", response_class=HTMLResponse)
async def project_page(request: Request, ctx: Ctx, project_id: ProjectId) -> HTMLResponse:
    view = await project_view(ctx, project_id)
    preview = None
    if not view.project.chapter_count:
        preview = await run_in_threadpool(service.load_preview, ctx.store, project_id)
    return await render(
        request,
        ctx,
        "project.html",
        view=view,
        p=view.project,
        progress=view.progress,
        chapters=_chapters(ctx, view),
        flagged=await run_in_threadpool(_flagged, ctx, view.project, view.chapters),
        preview=preview,
        qa_report=await run_in_threadpool(service.has_qa_report, ctx.store, project_id),
        temporal_url=temporal_ui_link(ctx.settings, project_workflow_id(project_id)),
    )


@router.get("/projects/{project_id}/_summary", response_class=HTMLResponse)
async def project_summary_fragment(
    request: Request, ctx: Ctx, project_id: ProjectId
) -> HTMLResponse:
    view = await project_view(ctx, project_id)
    return await render(
        request,
        ctx,
        "_summary.html",
        view=view,
        p=view.project,
        progress=view.progress,
        qa_report=await run_in_threadpool(service.has_qa_report, ctx.store, project_id),
        temporal_url=temporal_ui_link(ctx.settings, project_workflow_id(project_id)),
    )


@router.get("/projects/{project_id}/_chapters/{index}", response_class=HTMLResponse)
async def chapter_card_fragment(
    request: Request, ctx: Ctx, project_id: ProjectId, index: ChapterIndex
) -> HTMLResponse:
    def load():
        with session_scope(ctx.engine) as session:
            project = repository.get_project(session, project_id)
            return project, repository.get_chapter(session, project_id, index)

    project, chapter = await run_in_threadpool(load)
    return await render(
        request,
        ctx,
        "_chapter.html",
        c=ChapterOut.of(ctx.settings, chapter),
        project_id=project_id,
        flagged=await run_in_threadpool(_flagged, ctx, project, [chapter]),
    )


@router.get("/projects/{project_id}/chapters/{index}", response_class=HTMLResponse)
async def chapter_page(
    request: Request,
    ctx: Ctx,
    project_id: ProjectId,
    index: ChapterIndex,
    start: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    status: Annotated[SegmentStatus | None, Query()] = None,
    show: Annotated[Show, Query()] = "all",
) -> HTMLResponse:
    """The chapter's editor: a page of segments to listen to, edit, render again, approve."""
    where = queries.SegmentFilter(status, **({show: True} if show != "all" else {}))

    def load():
        with session_scope(ctx.engine) as session:
            project = repository.get_project(session, project_id)
            chapter = repository.get_chapter(session, project_id, index)
            page = read_segments(session, project_id, index, start, limit, where)
            return project, chapter, page

    project, chapter, page = await run_in_threadpool(load)
    # The same page through the JSON API: studio.js re-reads it to update the rows in place.
    query: dict[str, object] = {"start": page.start, "limit": limit}
    query.update({"status": status.value} if status else {})
    query.update({show: "true"} if show != "all" else {})
    return await render(
        request,
        ctx,
        "chapter.html",
        segments_url=f"/api/projects/{project_id}/chapters/{index}/segments?{urlencode(query)}",
        p=project,
        c=ChapterOut.of(ctx.settings, chapter),
        flagged=await run_in_threadpool(_flagged, ctx, project, [chapter]),
        page=page,
        status=status.value if status else "",
        show=show,
        shows=SHOWS,
        blank=BLANK_ROW,
        limit=limit,
        page_sizes=PAGE_SIZES,
        statuses=[s.value for s in SegmentStatus],
    )


def _project_form(action: Callable[..., Awaitable[object]]) -> Callable[..., Awaitable[Response]]:
    """The start or cancel button: the CSRF check, the service's action, back to the project."""

    async def endpoint(
        request: Request, ctx: Ctx, project_id: ProjectId, csrf: CsrfField = None
    ) -> Response:
        check_csrf_token(request, csrf)
        await action(ctx.settings, ctx.engine, ctx.gateway, project_id)
        return RedirectResponse(f"/projects/{project_id}", status_code=303)

    return endpoint


@router.get("/projects/{project_id}/lexicon", response_class=HTMLResponse)
async def lexicon_page(request: Request, ctx: Ctx, project_id: ProjectId) -> HTMLResponse:
    return await _lexicon(request, ctx, project_id)


@router.post("/projects/{project_id}/lexicon", response_class=HTMLResponse)
async def lexicon_form(
    request: Request,
    ctx: Ctx,
    project_id: ProjectId,
    term: Annotated[str, Form(max_length=200)],
    replacement: Annotated[str, Form(max_length=400)],
    csrf: CsrfField = None,
    phonemes: Annotated[bool, Form()] = False,
    case_sensitive: Annotated[bool, Form()] = False,
    action: Annotated[str, Form(pattern="^(preview|save)$")] = "preview",
) -> HTMLResponse:
    """Preview shows the segments an entry touches; save stores it and shows them again."""
    check_csrf_token(request, csrf)
    form = {"term": term, "replacement": replacement}
    form.update(phonemes=phonemes, case_sensitive=case_sensitive)
    kind = Kind.phonemes if phonemes else Kind.respell
    entry = Entry(term.strip(), replacement.strip(), kind, case_sensitive)
    if not entry.term or not entry.replacement:
        return await _lexicon(request, ctx, project_id, form=form, error="Fill in both fields.")

    def apply() -> list:
        change = lexicon_store.save if action == "save" else lexicon_store.touched_by_change
        with session_scope(ctx.engine) as session:
            return change(session, project_id, [entry])

    touched = await run_in_threadpool(apply)
    return await _lexicon(
        request, ctx, project_id, form=form, preview=touched, saved=action == "save"
    )


async def _lexicon(request: Request, ctx: Ctx, project_id: int, **values) -> HTMLResponse:
    def load():
        with session_scope(ctx.engine) as session:
            project = repository.get_project(session, project_id)
            shared = lexicon_store.entries(session, None)
            own = lexicon_store.entries(session, project_id)
            session.expunge(project)
        return project, [("project", e) for e in own] + [("shared", e) for e in shared]

    project, entries = await run_in_threadpool(load)
    values.setdefault("form", {})
    values.setdefault("preview", None)
    return await render(request, ctx, "lexicon.html", p=project, entries=entries, **values)


async def _rerender(settings, engine, gateway, project_id: int) -> None:
    await service.rerender(settings, gateway, project_id)


router.post("/projects/{project_id}/rerender", name="rerender_form")(_project_form(_rerender))
router.post("/projects/{project_id}/start", name="start_form")(_project_form(service.start))
router.post("/projects/{project_id}/cancel", name="cancel_form")(_project_form(service.cancel))


@router.post("/projects/{project_id}/chapters/{index}/replay")
async def replay_form(
    request: Request, ctx: Ctx, project_id: ProjectId, index: ChapterIndex, csrf: CsrfField = None
) -> Response:
    check_csrf_token(request, csrf)
    await service.replay(ctx.engine, ctx.gateway, project_id, index)
    return RedirectResponse(f"/projects/{project_id}#chapter-{index}", status_code=303)


def _safe_next(target: str | None) -> str:
    """Only same-site paths: never redirect a login to another site."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc and "\\" not in target else "/"


@public.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, ctx: Ctx, next: str | None = None) -> Response:
    if not auth_required(ctx.settings):
        return RedirectResponse("/", status_code=303)
    return await render(request, ctx, "login.html", next=_safe_next(next))


async def _locked_out(
    request: Request, ctx: Ctx, next: str | None, wait: float, why: str
) -> HTMLResponse:
    response = await render(
        request,
        ctx,
        "login.html",
        status_code=429,
        next=_safe_next(next),
        error=f"{why} Sign-in is paused: try again {in_words(wait)}.",
    )
    response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
    return response


@public.post("/login", response_class=HTMLResponse)
async def login(
    request: Request,
    ctx: Ctx,
    csrf: CsrfField = None,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    next: Annotated[str | None, Form(max_length=2000)] = None,
) -> Response:
    check_origin(request, ctx.settings)
    check_csrf_token(request, csrf)
    if not auth_required(ctx.settings):
        return RedirectResponse("/", status_code=303)
    throttle: LoginThrottle = request.app.state.login_throttle
    client = client_address(request)
    # A locked-out user name or client is refused before the password is looked at.
    if wait := throttle.retry_after(username, client):
        log_failed_login(THROTTLED, username, client)
        return await _locked_out(request, ctx, next, wait, "Too many failed sign-ins.")
    if reason := login_refusal(ctx.settings, username, password):
        log_failed_login(reason, username, client)
        if lockout := throttle.failed(username, client):
            return await _locked_out(
                request,
                ctx,
                next,
                lockout,
                "Wrong user name or password, and too many failed sign-ins.",
            )
        return await render(
            request,
            ctx,
            "login.html",
            status_code=401,
            next=_safe_next(next),
            error="wrong user name or password",
        )
    throttle.succeeded(username, client)
    request.session.clear()
    request.session["user"] = username
    return RedirectResponse(_safe_next(next), status_code=303)


@public.post("/logout")
async def logout(request: Request, ctx: Ctx, csrf: CsrfField = None) -> Response:
    check_origin(request, ctx.settings)
    check_csrf_token(request, csrf)
    if "session" in request.scope:
        request.session.clear()
    return RedirectResponse("/login" if auth_required(ctx.settings) else "/", status_code=303)

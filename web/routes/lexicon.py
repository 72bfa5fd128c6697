"""Pronunciation lexicons over the API: list, preview what an entry touches, save, remove,
import and export (PLS or CSV), and render a project again after a change."""

from __future__ import annotations

from typing import Annotated

from fastapi import File, Query, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from voxflow.conversion import QaChange
from voxflow.db import session_scope
from voxflow.errors import InputError
from voxflow.lexicon import Entry, Kind, from_csv, from_pls, to_csv, to_pls
from voxflow.lexicon import store as lexicon_store
from voxflow.naming import project_workflow_id
from web import service
from web.deps import MAX_ID, Ctx, ProjectId, QaRetakes
from web.routes.common import ACTION, action_out, api_router
from web.schemas import ActionOut

router = api_router()
SHOWN = 100  # touched segments listed in a preview; the count covers them all
Scope = Annotated[
    int | None,
    Query(ge=1, le=MAX_ID, description="Project id; the shared lexicon when omitted"),
]


class EntryIn(BaseModel):
    term: str = Field(min_length=1, max_length=200)
    replacement: str = Field(min_length=1, max_length=400)
    kind: Kind = Kind.respell
    case_sensitive: bool = False

    def entry(self) -> Entry:
        return Entry(self.term.strip(), self.replacement.strip(), self.kind, self.case_sensitive)


class QaIn(BaseModel):
    """Speech QA for this render and the next ones: on or off, and how many retakes."""

    speech_qa: bool
    qa_retakes: QaRetakes = 0


class TouchedOut(BaseModel):
    chapter_index: int
    segment_index: int
    text: str
    spoken: str


class PreviewOut(BaseModel):
    """What saving these entries changes: segments per project, the first ones listed."""

    touched: int
    segments: list[TouchedOut]


def _preview(session, project_id: int | None, entries: list[Entry], save: bool) -> PreviewOut:
    """The segments the entries touch (and, with `save`, the entries stored); an unknown
    project is a 404."""
    change = lexicon_store.save if save else lexicon_store.touched_by_change
    found = change(session, project_id, entries)
    shown = [TouchedOut(**_touched(t)) for t in found[:SHOWN]]
    return PreviewOut(touched=len(found), segments=shown)


def _touched(t: lexicon_store.Touched) -> dict:
    return {
        "chapter_index": t.chapter_index,
        "segment_index": t.segment_index,
        "text": t.text,
        "spoken": t.spoken_after,
    }


@router.get("/lexicon", response_model=list[EntryIn], summary="One lexicon's entries")
def list_lexicon(ctx: Ctx, project_id: Scope = None) -> list[EntryIn]:
    with session_scope(ctx.engine) as session:
        rows = lexicon_store.entries(session, project_id)
    return [EntryIn(**_fields(e)) for e in rows]


def _fields(e: Entry) -> dict:
    return {
        "term": e.term,
        "replacement": e.replacement,
        "kind": e.kind,
        "case_sensitive": e.case_sensitive,
    }


@router.post(
    "/lexicon/preview",
    response_model=PreviewOut,
    summary="Which segments these entries would touch, without saving them",
)
def preview_lexicon(ctx: Ctx, entries: list[EntryIn], project_id: Scope = None) -> PreviewOut:
    with session_scope(ctx.engine) as session:
        return _preview(session, project_id, [e.entry() for e in entries], save=False)


@router.put(
    "/lexicon",
    response_model=PreviewOut,
    summary="Save entries (replacing ones for the same term); answers what they touch",
)
def save_lexicon(ctx: Ctx, entries: list[EntryIn], project_id: Scope = None) -> PreviewOut:
    with session_scope(ctx.engine) as session:
        return _preview(session, project_id, [e.entry() for e in entries], save=True)


@router.delete("/lexicon/{term}", summary="Remove a term from one lexicon")
def remove_term(ctx: Ctx, term: str, project_id: Scope = None) -> dict:
    with session_scope(ctx.engine) as session:
        return {"removed": lexicon_store.remove(session, project_id, term)}


@router.post(
    "/lexicon/import",
    response_model=PreviewOut,
    summary="Save every entry of a W3C PLS (.pls, .xml) or CSV (.csv) file",
)
async def import_lexicon(
    ctx: Ctx, file: Annotated[UploadFile, File()], project_id: Scope = None
) -> PreviewOut:
    data, name = await file.read(), file.filename or "lexicon.pls"
    reader = from_csv if name.lower().endswith(".csv") else from_pls
    entries = reader(data, name)
    if not entries:
        raise InputError(f"{name} holds no lexicon entries")

    def save() -> PreviewOut:
        with session_scope(ctx.engine) as session:
            return _preview(session, project_id, entries, save=True)

    return await run_in_threadpool(save)


LEXICON_FILES = {
    200: {
        "description": "The lexicon file",
        "content": {"application/pls+xml": {}, "text/csv": {}},
    }
}


@router.get("/lexicon/export", summary="One lexicon as a PLS or CSV file", responses=LEXICON_FILES)
def export_lexicon(
    ctx: Ctx, project_id: Scope = None, format: Annotated[str, Query(pattern="^(pls|csv)$")] = "pls"
) -> Response:
    with session_scope(ctx.engine) as session:
        rows = lexicon_store.entries(session, project_id)
    name = f"lexicon-{project_id or 'shared'}.{format}"
    if format == "csv":
        body, media = to_csv(rows).encode(), "text/csv"
    else:
        body, media = to_pls(rows), "application/pls+xml"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    return Response(body, media_type=media, headers=headers)


@router.post(
    "/projects/{project_id}/rerender",
    summary="Render a finished project again: only what a change touched is redone",
    **ACTION,
)
async def rerender(ctx: Ctx, project_id: ProjectId, qa: QaIn | None = None) -> ActionOut:
    """Without a body the project keeps its speech-QA choice; with one, it is changed first."""
    change = QaChange(qa.qa_retakes if qa.speech_qa else None) if qa is not None else None
    message = await service.rerender(ctx.settings, ctx.gateway, project_id, change)
    workflow_id = project_workflow_id(project_id)
    return action_out(ctx, service.ActionResult(project_id, "running", message, workflow_id))

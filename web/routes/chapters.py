"""Chapters: list, read one, page through its segments, replay a failed one."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path as PathParam
from fastapi import Query
from pydantic import BaseModel, Field
from sqlmodel import Session

from voxflow import approval, takes
from voxflow.approval import segment_at
from voxflow.db import repository, session_scope
from voxflow.db.models import SegmentStatus
from voxflow.naming import chapter_workflow_id
from web import queries, service
from web.deps import MAX_ID, ChapterIndex, Ctx, ProjectId, SegmentIndex
from web.routes.common import ACTION, action_out, api_router
from web.schemas import ActionOut, ChapterOut, SegmentList, SegmentOut, TakeOut

router = api_router()


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
    flagged: Annotated[
        bool | None, Query(description="Only segments speech QA flagged (false: not flagged)")
    ] = None,
    edited: Annotated[
        bool | None, Query(description="Only segments whose text was edited (false: not)")
    ] = None,
    approved: Annotated[
        bool | None, Query(description="Only approved, locked segments (false: unlocked)")
    ] = None,
) -> SegmentList:
    where = queries.SegmentFilter(status, flagged, edited, approved)
    with session_scope(ctx.engine) as session:
        return read_segments(session, project_id, index, start, limit, where)


def read_segments(
    session: Session,
    project_id: int,
    index: int,
    start: int,
    limit: int,
    where: queries.SegmentFilter,
) -> SegmentList:
    """A page of segments with their QA and staleness; the API and the chapter page share it."""
    chapter = repository.get_chapter(session, project_id, index)
    page = queries.segment_page(session, chapter.id, start=start, limit=limit, where=where)
    checks, made = queries.page_extras(session, page.rows)
    return SegmentList.of(project_id, chapter, page, where, checks, made)


@router.post(
    "/projects/{project_id}/chapters/{index}/replay",
    summary="Run a failed chapter again (the other chapters are not redone)",
    **ACTION,
)
async def replay_chapter(ctx: Ctx, project_id: ProjectId, index: ChapterIndex) -> ActionOut:
    message = await service.replay(ctx.engine, ctx.gateway, project_id, index)
    workflow_id = chapter_workflow_id(project_id, index)
    return action_out(ctx, service.ActionResult(project_id, "running", message, workflow_id))


def _segment_change(ctx: Ctx, project_id: int, index: int, change) -> SegmentOut:
    """Apply a change to one segment in a transaction; the segment as it is after."""
    with session_scope(ctx.engine) as session:
        segment = change(session)
        checks, made = queries.page_extras(session, [segment])
        sid = segment.id
        return SegmentOut.of(project_id, index, segment, checks.get(sid), made.get(sid))


@router.post(
    "/projects/{project_id}/chapters/{index}/segments/{segment}/approve",
    response_model=SegmentOut,
    summary="Approve a segment's take: later changes and re-renders leave its audio alone",
)
def approve_segment(
    ctx: Ctx, project_id: ProjectId, index: ChapterIndex, segment: SegmentIndex
) -> SegmentOut:
    return _segment_change(
        ctx, project_id, index, lambda s: approval.approve(s, project_id, index, segment)
    )


@router.post(
    "/projects/{project_id}/chapters/{index}/segments/{segment}/unlock",
    response_model=SegmentOut,
    summary="Unlock an approved segment: the next re-render may change its audio",
)
def unlock_segment(
    ctx: Ctx, project_id: ProjectId, index: ChapterIndex, segment: SegmentIndex
) -> SegmentOut:
    return _segment_change(
        ctx, project_id, index, lambda s: approval.unlock(s, project_id, index, segment)
    )


class TextIn(BaseModel):
    text: str = Field(min_length=1, max_length=2000)


@router.post(
    "/projects/{project_id}/chapters/{index}/segments/{segment}/text",
    response_model=SegmentOut,
    summary="Change a segment's text; the next rerender synthesises it and its chapter only",
)
def edit_segment(
    ctx: Ctx, project_id: ProjectId, index: ChapterIndex, segment: SegmentIndex, body: TextIn
) -> SegmentOut:
    def change(session):
        voice = ctx.registry.get(repository.get_project(session, project_id).voice)
        return takes.edit(session, project_id, index, segment, body.text, voice.max_chars)

    return _segment_change(ctx, project_id, index, change)


@router.post(
    "/projects/{project_id}/chapters/{index}/segments/{segment}/retake",
    response_model=SegmentOut,
    summary="Ask for another rendering of a segment at the next rerender",
)
def retake_segment(
    ctx: Ctx, project_id: ProjectId, index: ChapterIndex, segment: SegmentIndex
) -> SegmentOut:
    return _segment_change(
        ctx, project_id, index, lambda s: takes.retake(s, project_id, index, segment)
    )


@router.get(
    "/projects/{project_id}/chapters/{index}/segments/{segment}/takes",
    response_model=list[TakeOut],
    summary="A segment's renderings, oldest first, with the speech QA of each",
)
def segment_takes(
    ctx: Ctx, project_id: ProjectId, index: ChapterIndex, segment: SegmentIndex
) -> list[TakeOut]:
    base = f"/api/projects/{project_id}/chapters/{index}/segments/{segment}/takes"
    with session_scope(ctx.engine) as session:
        rows = takes.history(session, project_id, index, segment)
        row = segment_at(session, project_id, index, segment)
        checks = takes.checks(session, row.id)
        out = []
        for n, t in enumerate(rows, start=1):
            check = checks.get(t.audio_key)
            out.append(
                TakeOut(
                    number=n, take=t.take, text=t.text, created_at=t.created_at,
                    in_use=t.audio_key == row.audio_key, audio_url=f"{base}/{n}/audio",
                    wer=check.wer if check else None, reason=check.reason if check else None,
                    heard=check.heard if check else None,
                )
            )  # fmt: skip
        return out


@router.post(
    "/projects/{project_id}/chapters/{index}/segments/{segment}/takes/{number}/use",
    response_model=SegmentOut,
    summary="Go back to an earlier take (approved, so renders keep it)",
)
def use_take(
    ctx: Ctx,
    project_id: ProjectId,
    index: ChapterIndex,
    segment: SegmentIndex,
    number: Annotated[int, PathParam(ge=1, le=MAX_ID)],
) -> SegmentOut:
    return _segment_change(
        ctx, project_id, index, lambda s: takes.use(s, project_id, index, segment, number)
    )

"""Server-sent events: live progress, plus a notice when a chapter or the project ends.

The database is the source (workers write live counters there), so updates keep flowing
whatever Temporal is doing; each open stream reads two small rows sets per tick.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Depends, Request
from sse_starlette.sse import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from voxflow.db import session_scope
from voxflow.db.repository import NotFound
from web import queries
from web.deps import Ctx, ProjectId, require_api

router = APIRouter(prefix="/api", dependencies=[Depends(require_api)])

ENDED = {"done", "failed", "attention", "cancelled"}


def snapshot(view: queries.ProjectView) -> dict:
    p, progress = view.project, view.progress
    return {
        "project": {
            "id": p.id,
            "title": p.title,
            "state": p.state.value,
            "started": view.started,
            "error": p.error,
            "duration_s": p.duration_s,
            "total": progress.total,
            "done": progress.done,
            "failed": progress.failed,
            "percent": progress.percent,
            "book": bool(p.book_key),
            "manifest": bool(p.manifest_key),
        },
        "chapters": [
            {
                "index": c.index,
                "title": c.title,
                "state": c.state.value,
                "total": c.segment_count,
                "done": c.done_count,
                "failed": c.failed_count,
                "percent": queries.Progress(c.segment_count, c.done_count, 0).percent,
                "duration_s": c.duration_s,
                "error": c.error,
                "audio": bool(c.audio_key),
                # Changes with every write to the chapter, so a re-render that ends between two
                # ticks still reaches the chapter editor, which re-reads its rows on a change.
                "updated_at": c.updated_at.isoformat(),
            }
            for c in view.chapters
        ],
    }


def notices(before: dict | None, after: dict) -> list[dict]:
    """One message per chapter or project that reached an end state since the last tick."""
    if before is None:
        return []
    out = []
    old = {c["index"]: c for c in before["chapters"]}
    for chapter in after["chapters"]:
        previous = old.get(chapter["index"])
        if previous and previous["state"] != chapter["state"]:
            name = f"Chapter {chapter['index']} “{chapter['title']}”"
            if chapter["state"] == "done":
                out.append({"level": "success", "message": f"{name} is finished."})
            elif chapter["state"] == "failed":
                reason = f": {chapter['error']}" if chapter["error"] else "."
                out.append({"level": "error", "message": f"{name} failed{reason}"})
    state, was = after["project"]["state"], before["project"]["state"]
    if state != was and state in ENDED:
        title = after["project"]["title"]
        message = {
            "done": f"“{title}” is finished: the book and manifest are ready.",
            "failed": f"“{title}” failed: {after['project']['error'] or 'see the chapters'}",
            "attention": f"“{title}” needs attention: replay the failed chapters or cancel.",
            "cancelled": f"“{title}” was cancelled.",
        }[state]
        level = {"done": "success", "cancelled": "info"}.get(state, "error")
        out.append({"level": level, "message": message, "project_state": state})
    return out


@router.get(
    "/projects/{project_id}/events",
    summary="Live progress (text/event-stream): `progress` and `notice` events",
    response_class=EventSourceResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def events(request: Request, ctx: Ctx, project_id: ProjectId) -> EventSourceResponse:
    def read() -> dict:
        with session_scope(ctx.engine) as session:
            return snapshot(queries.project_view(session, project_id))

    first = await run_in_threadpool(read)  # 404 now, before the stream starts

    async def stream() -> AsyncIterator[dict]:
        last: dict | None = None
        current = first
        while True:
            if current != last:
                for notice in notices(last, current):
                    yield {"event": "notice", "data": json.dumps(notice)}
                yield {"event": "progress", "data": json.dumps(current)}
                last = current
            await asyncio.sleep(ctx.settings.web_poll_s)
            if await request.is_disconnected():
                return
            try:
                current = await run_in_threadpool(read)
            except NotFound:  # the project was deleted while it was being watched
                return

    return EventSourceResponse(stream(), ping=15, headers={"Cache-Control": "no-store"})

"""Server-sent events over a real uvicorn: progress ticks, and notices when things end."""

from __future__ import annotations

import asyncio
import json

import httpx

from tests.web.conftest import serve
from tests.web.seeding import seed_project, set_project, update_chapter
from voxflow.db.models import ChapterState, ProjectState


async def read_events(response: httpx.Response, queue: asyncio.Queue) -> None:
    event = None
    async for line in response.aiter_lines():
        if line.startswith("event:"):
            event = line.split(":", 1)[1].strip()
        elif line.startswith("data:") and event:
            await queue.put((event, json.loads(line.split(":", 1)[1])))


async def next_event(queue: asyncio.Queue, kind: str, timeout: float = 20.0):
    while True:
        event, data = await asyncio.wait_for(queue.get(), timeout)
        if event == kind:
            return data


async def test_progress_and_notices_stream_live(app, web_settings):
    pid = seed_project(web_settings, {"One": 2, "Two": 2}, done={1: 1})
    with serve(app) as base:
        async with (
            httpx.AsyncClient(base_url=base, timeout=30) as client,
            client.stream("GET", f"/api/projects/{pid}/events") as response,
        ):
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            queue: asyncio.Queue = asyncio.Queue()
            reader = asyncio.create_task(read_events(response, queue))
            try:
                first = await next_event(queue, "progress")
                assert first["project"]["done"] == 1 and first["project"]["percent"] == 25.0

                await asyncio.to_thread(
                    update_chapter, web_settings, pid, 2, ChapterState.failed, error="TTS said no"
                )
                notice = await next_event(queue, "notice")
                assert notice == {
                    "level": "error",
                    "message": "Chapter 2 “Two” failed: TTS said no",
                }
                await asyncio.to_thread(update_chapter, web_settings, pid, 1, ChapterState.done)
                assert "is finished" in (await next_event(queue, "notice"))["message"]
                await asyncio.to_thread(set_project, web_settings, pid, ProjectState.done)
                notice = await next_event(queue, "notice")
                assert notice["level"] == "success" and notice["project_state"] == "done"
            finally:
                reader.cancel()

        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            assert (await client.get("/api/projects/999/events")).status_code == 404

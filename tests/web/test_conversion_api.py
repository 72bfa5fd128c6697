"""The API against the real stack: Temporal dev server, in-process worker, TorchServe (joe)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from temporalio.client import WorkflowExecutionStatus

from tests.plugins.temporal import make_settings, running_worker
from voxflow import audio
from voxflow.conversion import connect
from voxflow.settings import Settings
from web import create_app

pytestmark = pytest.mark.integration

BOOK = (
    b"# Two Short Chapters\n\n## Harbour\n\nThe boats came in at dusk. Gulls followed them.\n\n"
    b"## Lantern\n\nMaren lit the lamp. The beam swept the water. Night fell.\n"
)


def api(settings: Settings) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(settings))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=60)


def unserved(tmp_path, temporal_address: str, sqlite_url: str, **overrides) -> Settings:
    """Settings on the real Temporal server where no worker listens."""
    return Settings(
        data_dir=tmp_path / "data",
        database_url=sqlite_url,
        temporal_address=temporal_address,
        temporal_task_queue="web-test-nobody-listens",
        **overrides,
    )


async def test_start_twice_and_cancel_on_real_temporal(tmp_path, temporal_address, sqlite_url):
    """No worker listens on this task queue: the cancel is not handled, so it is terminated."""
    settings = unserved(tmp_path, temporal_address, sqlite_url)
    async with api(settings) as client:
        created = await client.post("/api/projects", data={"text": BOOK.decode()})
        pid = created.json()["id"]
        started = await client.post(f"/api/projects/{pid}/start")
        assert started.status_code == 202, started.text
        assert started.json()["workflow_id"] == f"project-{pid}"
        assert started.json()["temporal_url"].endswith(f"/workflows/project-{pid}")
        again = await client.post(f"/api/projects/{pid}/start")
        assert again.status_code == 409 and "already started" in again.json()["detail"]
        status = (await client.get(f"/api/projects/{pid}")).json()
        assert status["temporal"] == {"available": True, "message": None}
        assert status["started"] is True

        cancelled = await client.post(f"/api/projects/{pid}/cancel")
        assert cancelled.status_code == 202, cancelled.text
        assert (await client.get(f"/api/projects/{pid}")).json()["state"] == "cancelled"
    temporal = await connect(settings)
    described = await temporal.get_workflow_handle(f"project-{pid}").describe()
    assert described.status == WorkflowExecutionStatus.TERMINATED


async def test_a_missing_temporal_namespace_is_a_503_that_names_it(
    tmp_path, temporal_address, sqlite_url
):
    settings = unserved(
        tmp_path, temporal_address, sqlite_url, temporal_namespace="nobody-created-this"
    )
    async with api(settings) as client:
        created = await client.post("/api/projects", data={"text": BOOK.decode()})
        started = await client.post(f"/api/projects/{created.json()['id']}/start")
    assert started.status_code == 503, started.text
    assert "no namespace 'nobody-created-this'" in started.json()["detail"]


async def test_real_conversion_through_the_api(
    tmp_path, temporal_address, torchserve, database_url
):
    settings = make_settings(
        tmp_path / "data", temporal_address, torchserve, database_url=database_url
    )
    async with running_worker(settings), api(settings) as client:
        created = await client.post(
            "/api/projects",
            files={"file": ("short.md", BOOK, "text/markdown")},
            data={"voice": "joe", "output_format": "mp3", "start": "true"},
        )
        assert created.status_code == 201, created.text
        pid = created.json()["id"]

        async def state() -> str:
            return (await client.get(f"/api/projects/{pid}")).json()["state"]

        deadline = asyncio.get_running_loop().time() + 240
        while (current := await state()) not in {"done", "failed", "attention"}:
            assert asyncio.get_running_loop().time() < deadline, f"still {current}"
            await asyncio.sleep(0.5)
        assert current == "done"

        status = (await client.get(f"/api/projects/{pid}")).json()
        assert status["percent"] == 100.0 and status["duration_s"] > 0
        assert [c["state"] for c in status["chapters"]] == ["done", "done"]

        chapter = status["chapters"][0]
        whole = await client.get(chapter["audio_url"])
        assert whole.status_code == 200 and whole.headers["content-type"] == "audio/mpeg"
        local = tmp_path / "chapter.mp3"
        local.write_bytes(whole.content)
        assert audio.probe_duration(local) == pytest.approx(chapter["duration_s"], abs=0.05)
        seek = await client.get(chapter["audio_url"], headers={"Range": "bytes=1000-1999"})
        assert seek.status_code == 206 and seek.content == whole.content[1000:2000]

        vtt = await client.get(chapter["subtitles_url"])
        assert vtt.text.startswith("WEBVTT") and "The boats came in at dusk." in vtt.text
        manifest = (await client.get(status["manifest_url"])).json()
        assert [c["title"] for c in manifest["chapters"]] == ["Harbour", "Lantern"]
        book = await client.get(status["book_url"])
        assert book.status_code == 200 and len(book.content) > 10_000

        segments = (await client.get(chapter["segments_url"])).json()
        assert [s["status"] for s in segments["items"]] == ["done", "done"]
        assert segments["items"][0]["end_s"] > segments["items"][0]["start_s"] > 0
        clip = await client.get(segments["items"][0]["audio_url"])
        assert clip.status_code == 200 and clip.content[:4] == b"RIFF"

        refused = await client.post(f"/api/projects/{pid}/chapters/1/replay")
        assert refused.status_code == 409
        assert (await client.post(f"/api/projects/{pid}/cancel")).status_code == 409

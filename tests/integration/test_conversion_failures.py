"""Crashes and failures on the real stack: a killed worker; a chapter that fails, then replays."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from tests.helpers.conversions import (
    book,
    conversions,
    project_result,
    segment_files,
    snapshot,
    wait_for,
    wait_for_chapter,
)
from tests.plugins.temporal import make_settings, running_worker
from voxflow.conversion import connect, replay_chapter, start_conversion_bytes
from voxflow.db import migrate
from voxflow.stack import TemporalWorkerProcess

pytestmark = pytest.mark.integration


async def test_killed_worker_resumes_without_resynthesising(tmp_path, temporal_address, torchserve):
    settings = make_settings(
        tmp_path / "data", temporal_address, torchserve,
        job_max_segments=2, job_window=2, heartbeat_timeout_s=5, max_parallel_chapters=1,
    )  # fmt: skip
    migrate(settings.database_url)
    client = await connect(settings)
    first = TemporalWorkerProcess(settings, name="worker one")
    await asyncio.to_thread(first.start)
    try:
        started = await start_conversion_bytes(
            settings, book({"Only": 30}), "crash.md", client=client
        )
        await wait_for_chapter(settings, started.project_id, 1, done=6)
        first.kill()
        before_kill = segment_files(settings)
        assert 0 < len(before_kill) < 30, "the worker died mid-chapter"
        second = TemporalWorkerProcess(settings, name="worker two")
        await asyncio.to_thread(second.start)
        try:
            result = await project_result(client, started.workflow_id, 300)
        finally:
            second.stop()
    finally:
        first.stop()

    assert result.state == "done"
    _, _, segments = snapshot(settings, started.project_id)
    assert all(s.status == "done" for s in segments[1])
    assert all(s.attempts >= 1 for s in segments[1]), (
        "every synthesis is counted, even one whose outcome died with the worker"
    )
    after = segment_files(settings)
    assert len(after) == 30, "every sentence stored exactly once"
    assert all(after[key] == inode for key, inode in before_kill.items()), (
        "audio stored before the crash was never synthesised or written again"
    )


async def test_failed_chapter_replays_without_redoing_the_others(
    tmp_path, temporal_address, torchserve
):
    registry = tmp_path / "models.yaml"
    registry.write_text(
        "voices:\n"
        "  - {name: joe-flaky, version: '1.0', handler: piper, pool: cpu, sample_rate: 22050,\n"
        "     max_chars: 400, params: {length_scale: 1.0}}\n"
    )
    settings = make_settings(
        tmp_path / "data", temporal_address, torchserve,
        model_registry=registry, default_voice="joe-flaky",
        job_max_segments=2, job_window=1, max_parallel_chapters=1, activity_max_attempts=2,
    )  # fmt: skip
    management = httpx.Client(base_url=torchserve.management_url, timeout=120)

    def register() -> None:
        response = management.post(
            "/models",
            params={
                "url": "joe-1.0.mar",
                "model_name": "joe-flaky",
                "initial_workers": 1,
                "synchronous": "true",
            },
        )
        assert response.status_code == 200, response.text

    register()
    try:
        async with running_worker(settings):
            client = await connect(settings)
            started = await start_conversion_bytes(
                settings, book({"First": 6, "Second": 24}), "replay.md", client=client
            )
            await wait_for_chapter(settings, started.project_id, 1, state="done")
            response = management.delete("/models/joe-flaky/1.0")
            assert response.status_code == 200, response.text
            await wait_for(lambda: snapshot(settings, started.project_id)[0].state == "attention")

            project, chapters, segments = snapshot(settings, started.project_id)
            assert chapters[1].state == "done"
            assert chapters[2].state == "failed"
            assert chapters[2].error, "the failed chapter says why"
            assert "joe-flaky" in chapters[2].error, chapters[2].error
            first_chapter_files = {s.audio_key for s in segments[1]}
            inodes = segment_files(settings)

            register()
            await replay_chapter(client, started.project_id, 2)
            result = await project_result(client, started.workflow_id, 300)
    finally:
        management.delete("/models/joe-flaky/1.0")
        management.close()

    assert result.state == "done"
    project, chapters, segments = snapshot(settings, started.project_id)
    assert project.state == "done"
    assert [c.state for c in chapters.values()] == ["done", "done"]
    assert conversions(settings, started.project_id) == [
        ("failed", "chapter 2 failed; replay or accept the book without chapter 2"),
        ("done", None),
    ], "the first run ended where the chapter failed, and the replay is its own conversion"
    assert all(s.attempts == 1 for s in segments[1]), "chapter 1 was not synthesised again"
    root = Path(settings.artifacts_dir)
    for key in first_chapter_files:
        relative = str(Path(key).relative_to("segments"))
        assert (root / key).stat().st_ino == inodes[relative]

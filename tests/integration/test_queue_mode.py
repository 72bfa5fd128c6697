"""Queue mode on the real RabbitMQ, Temporal dev server, TorchServe and joe voice.

Jobs go through RabbitMQ to inference workers; results come back through the relay, which
completes each Temporal activity by its task token.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import aio_pika
import httpx
import pytest

from tests.helpers.conversions import (
    book,
    convert,
    project_result,
    segment_files,
    snapshot,
    wait_for,
    wait_for_chapter,
)
from tests.plugins.queue import running_queue_workers
from tests.plugins.services import rabbitmqctl
from tests.plugins.temporal import make_settings, running_worker
from voxflow.conversion import connect, replay_chapter, start_conversion_bytes
from voxflow.queue import broker
from voxflow.settings import Settings
from voxflow.stack import inference_process

pytestmark = pytest.mark.integration

SAMPLE = Path(__file__).parents[2] / "examples" / "the-lighthouse-keeper.md"
ASSETS = Path(__file__).parents[1] / "assets"


def segment_audio(settings: Settings, project_id: int) -> list[tuple[int, int, str, float]]:
    _, _, segments = snapshot(settings, project_id)
    return [
        (index, s.index, s.audio_key, round(s.duration_s, 3))
        for index, rows in sorted(segments.items())
        for s in rows
    ]


async def test_queue_mode_converts_the_sample_like_direct_mode(
    tmp_path, queue_settings, temporal_address, torchserve
):
    direct = make_settings(tmp_path / "direct", temporal_address, torchserve)
    async with running_worker(direct):
        direct_id = await convert(direct, SAMPLE.read_bytes(), SAMPLE.name)
    async with running_worker(queue_settings), running_queue_workers(queue_settings) as workers:
        queue_id = await convert(queue_settings, SAMPLE.read_bytes(), SAMPLE.name)

    assert workers.inference[0].processed > 0, "the jobs went through the inference worker"
    assert workers.relay.completed == workers.inference[0].processed
    direct_audio = segment_audio(direct, direct_id)
    queue_audio = segment_audio(queue_settings, queue_id)
    assert [row[:3] for row in queue_audio] == [row[:3] for row in direct_audio], (
        "the same segments, with the same content-addressed request (model, params, text)"
    )
    # Piper samples its noise and durations, so the same request is not bit-identical twice.
    assert [row[3] for row in queue_audio] == pytest.approx(
        [row[3] for row in direct_audio], rel=0.15
    )
    _, chapters, _ = snapshot(queue_settings, queue_id)
    assert all(c.state == "done" and c.duration_s > 0 for c in chapters.values())


async def test_a_job_delivered_twice_is_synthesised_once(queue_settings):
    """A tap on the jobs exchange publishes every job a second time."""
    names = broker.Names(queue_settings.queue_prefix)
    connection = await broker.connect(queue_settings)
    channel = await connection.channel()
    await broker.declare(channel, queue_settings)
    tap = await channel.declare_queue(exclusive=True)
    await tap.bind(names.jobs_exchange, routing_key="cpu")
    duplicates = 0

    async def publish_again(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        nonlocal duplicates
        async with message.process():
            copy = aio_pika.Message(message.body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT)
            await channel.default_exchange.publish(copy, routing_key=names.jobs_queue("cpu"))
            duplicates += 1

    await tap.consume(publish_again)
    try:
        async with running_worker(queue_settings), running_queue_workers(queue_settings) as workers:
            project_id = await convert(queue_settings, book({"Echo": 12}), "echo.md")
            relay = workers.relay
            await wait_for(lambda: relay.completed + relay.dropped >= 2 * duplicates)
    finally:
        await connection.close()

    jobs = workers.relay.completed
    assert duplicates == jobs > 0, "every job was delivered twice"
    assert workers.relay.dropped == duplicates, "each duplicate result was dropped (NOT_FOUND)"
    _, _, segments = snapshot(queue_settings, project_id)
    assert [s.attempts for s in segments[1]] == [1] * 12, "each segment synthesised once"
    assert len(segment_files(queue_settings)) == 12


async def test_the_book_survives_a_broker_restart(queue_settings):
    async with running_worker(queue_settings), running_queue_workers(queue_settings):
        client = await connect(queue_settings)
        started = await start_conversion_bytes(
            queue_settings, book({"Before": 12, "After": 12}), "restart.md", client=client
        )
        await wait_for_chapter(queue_settings, started.project_id, 1, done=2)
        try:
            rabbitmqctl("stop_app")
            await asyncio.sleep(8)  # longer than a few quick retries and reconnects
        finally:
            rabbitmqctl("start_app")
            rabbitmqctl("await_startup")
        result = await project_result(client, started.workflow_id, 300)

    assert result.state == "done"
    _, _, segments = snapshot(queue_settings, started.project_id)
    assert [len(rows) for rows in segments.values()] == [12, 12], "no segment lost or added"
    assert all(s.status == "done" for rows in segments.values() for s in rows)
    assert len(segment_files(queue_settings)) == 24, "each sentence stored exactly once"


async def test_a_killed_inference_worker_is_replaced(queue_settings):
    settings = queue_settings.model_copy(update={"job_max_segments": 2, "inference_prefetch": 1})
    async with running_worker(settings), running_queue_workers(settings, inference=0):
        first = inference_process(settings, name="inference one")
        await asyncio.to_thread(first.start)
        try:
            client = await connect(settings)
            started = await start_conversion_bytes(
                settings, book({"Only": 16}), "kill.md", client=client
            )
            await wait_for_chapter(settings, started.project_id, 1, done=4)
            first.kill()
            second = inference_process(settings, name="inference two")
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
    assert len(segment_files(settings)) == 16


@pytest.fixture
def poison_voice(torchserve, tmp_path):
    """Register the test voice that fails on "poison"; yields the file that fixes it."""
    fix = tmp_path / "fixed"
    (tmp_path / "fix_path.txt").write_text(str(fix))
    archiver = Path(sys.executable).with_name("torch-model-archiver")
    subprocess.run(
        [
            str(archiver), "--model-name", "poison", "--version", "1.0",
            "--handler", str(ASSETS / "poison_voice.py"),
            "--extra-files", str(tmp_path / "fix_path.txt"),
            "--export-path", str(torchserve.model_store), "--force",
        ],
        check=True,
    )  # fmt: skip
    management = httpx.Client(base_url=torchserve.management_url, timeout=60)
    response = management.post(
        "/models",
        params={"url": "poison.mar", "initial_workers": 1, "synchronous": "true"},
    )
    assert response.status_code == 200, response.text
    try:
        yield fix
    finally:
        management.delete("/models/poison/1.0")
        management.close()


async def test_a_poison_job_is_dead_lettered_and_replays_after_the_fix(
    tmp_path, queue_settings, poison_voice
):
    registry = tmp_path / "models.yaml"
    registry.write_text(
        "voices:\n  - {name: poison, version: '1.0', handler: piper, pool: cpu,\n"
        "     sample_rate: 16000, max_chars: 400, params: {}}\n"
    )
    settings = queue_settings.model_copy(
        update={"model_registry": registry, "default_voice": "poison", "output_format": "wav"}
    )
    text = (
        "# Poison\n\n## Fine\n\nAll is well here. Nothing to see.\n\n"
        "## Bad\n\nThis line is fine. This poison line breaks the model. This one is fine too.\n"
    )
    async with running_worker(settings), running_queue_workers(settings) as workers:
        client = await connect(settings)
        started = await start_conversion_bytes(settings, text.encode(), "poison.md", client=client)
        await wait_for(lambda: snapshot(settings, started.project_id)[0].state == "attention")

        _, chapters, segments = snapshot(settings, started.project_id)
        assert chapters[1].state == "done"
        assert chapters[2].state == "failed"
        assert "dead-lettered" in chapters[2].error
        assert "failed 2 times" in chapters[2].error and "500" in chapters[2].error
        failed = [s for s in segments[2] if s.status == "failed"]
        assert failed and all("500" in s.last_error for s in failed)
        assert workers.relay.failed == 1

        poison_voice.write_text("fixed")
        await replay_chapter(client, started.project_id, 2)
        result = await project_result(client, started.workflow_id, 120)
    assert result.state == "done"
    _, chapters, _ = snapshot(settings, started.project_id)
    assert [c.state for c in chapters.values()] == ["done", "done"]


async def test_two_inference_workers_share_the_load(queue_settings):
    settings = queue_settings.model_copy(update={"job_max_segments": 2, "inference_prefetch": 1})
    async with running_worker(settings), running_queue_workers(settings, inference=2) as workers:
        await convert(settings, book({"Left": 12, "Right": 12}), "shared.md")
    counts = [w.processed for w in workers.inference]
    assert all(count > 0 for count in counts), counts
    assert sum(counts) == workers.relay.completed


async def test_sigterm_drains_the_inference_worker(queue_settings):
    """A rolling pod update: SIGTERM stops consuming, finishes the held job, exits 0."""
    settings = queue_settings.model_copy(update={"job_max_segments": 4, "inference_prefetch": 1})
    async with running_worker(settings), running_queue_workers(settings, inference=0):
        first = inference_process(settings, name="inference draining")
        await asyncio.to_thread(first.start)
        client = await connect(settings)
        started = await start_conversion_bytes(
            settings, book({"Rolling": 16}), "rolling.md", client=client
        )
        await wait_for_chapter(settings, started.project_id, 1, done=4)
        await asyncio.to_thread(first.stop, 60.0)  # SIGTERM, then wait for a clean exit
        assert first.process.returncode == 0, "a clean exit, not a kill:\n" + first.log_tail()
        second = inference_process(settings, name="inference next")
        await asyncio.to_thread(second.start)
        try:
            result = await project_result(client, started.workflow_id, 300)
        finally:
            second.stop()
    assert result.state == "done"
    assert len(segment_files(settings)) == 16


async def test_a_consumer_the_broker_cancels_comes_back(queue_settings):
    """Deleting the jobs queue makes RabbitMQ cancel the worker's consumer: it consumes again."""
    from voxflow.stack import queue_consumers

    names = broker.Names(queue_settings.queue_prefix)
    jobs = names.jobs_queue("cpu")
    async with running_worker(queue_settings), running_queue_workers(queue_settings) as workers:
        connection = await broker.connect(queue_settings)
        try:
            channel = await connection.channel()
            await channel.queue_delete(jobs)
        finally:
            await connection.close()
        await wait_for(lambda: asyncio.run(queue_consumers(queue_settings, jobs)) >= 1)
        project_id = await convert(queue_settings, book({"Again": 4}), "again.md")
    assert workers.inference[0].processed > 0, "the same worker consumed the recreated queue"
    _, _, segments = snapshot(queue_settings, project_id)
    assert [s.status for s in segments[1]] == ["done"] * 4

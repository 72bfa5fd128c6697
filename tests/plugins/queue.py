"""Queue-mode fixtures: settings with their own RabbitMQ names, and in-process workers."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest

from tests.plugins.temporal import make_settings
from voxflow.settings import Settings


async def delete_topology(settings: Settings) -> None:
    """Remove this test's queues and exchanges so runs never see each other's messages."""
    from voxflow.queue import broker

    names = broker.Names(settings.queue_prefix)
    connection = await broker.connect(settings)
    try:
        channel = await connection.channel()
        for queue in [*(names.jobs_queue(p) for p in broker.POOLS), names.results_queue]:
            await channel.queue_delete(queue)
        await channel.queue_delete(names.dead_queue)
        for exchange in (names.jobs_exchange, names.results_exchange, names.dead_exchange):
            await channel.exchange_delete(exchange)
    finally:
        await connection.close()


@pytest.fixture
async def queue_settings(
    tmp_path, temporal_address, torchserve, amqp_url
) -> AsyncIterator[Settings]:
    settings = make_settings(
        tmp_path / "data", temporal_address, torchserve,
        amqp_url=amqp_url, dispatch="queue", queue_prefix=f"test-{uuid.uuid4().hex[:8]}",
        queue_max_attempts=2,
    )  # fmt: skip
    yield settings
    await delete_topology(settings)


@dataclass
class QueueWorkers:
    relay: object
    inference: list = field(default_factory=list)


@asynccontextmanager
async def running_queue_workers(
    settings: Settings, inference: int = 1
) -> AsyncIterator[QueueWorkers]:
    """A result relay and `inference` inference workers in this event loop."""
    from voxflow.queue.broker import Names
    from voxflow.queue.inference_worker import InferenceWorker
    from voxflow.queue.relay import ResultRelay
    from voxflow.stack import queue_consumers

    workers = QueueWorkers(ResultRelay(settings))
    workers.inference = [
        InferenceWorker(settings, "cpu", name=f"worker-{n}") for n in range(inference)
    ]
    stop = asyncio.Event()
    tasks = [asyncio.ensure_future(workers.relay.run(stop))]
    tasks += [asyncio.ensure_future(w.run(stop)) for w in workers.inference]
    names = Names(settings.queue_prefix)
    for _ in range(100):
        jobs = await queue_consumers(settings, names.jobs_queue("cpu"))
        results = await queue_consumers(settings, names.results_queue)
        if jobs >= inference and results >= 1:
            break
        failed = [task for task in tasks if task.done() and task.exception()]
        if failed:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            failed[0].result()
        await asyncio.sleep(0.1)
    try:
        yield workers
    finally:
        stop.set()
        await asyncio.gather(*tasks)

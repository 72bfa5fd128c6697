"""Heartbeats on a timer: a dead worker's activity is retried within one heartbeat timeout.

Work that goes quiet for a while (a TorchServe queue, an ffmpeg encode) still heartbeats, so the
timeout can be seconds rather than minutes. Each beat sends the latest `details()`.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from temporalio import activity

BEATS_PER_TIMEOUT = 3
DEFAULT_INTERVAL_S = 5.0


def beat_interval_s() -> float:
    """A third of this activity's heartbeat timeout, so two beats may be lost in a row."""
    timeout = activity.info().heartbeat_timeout
    return timeout.total_seconds() / BEATS_PER_TIMEOUT if timeout else DEFAULT_INTERVAL_S


@asynccontextmanager
async def beating(details: Callable[[], Sequence[Any]] = tuple) -> AsyncIterator[None]:
    """For async activities: a task on the event loop beats until the block ends."""
    interval = beat_interval_s()

    async def beat() -> None:
        while True:
            activity.heartbeat(*details())
            await asyncio.sleep(interval)

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()


@contextmanager
def beating_in_thread(details: Callable[[], Sequence[Any]] = tuple) -> Iterator[None]:
    """For activities in the worker's thread pool: a helper thread beats in their context."""
    interval, stop = beat_interval_s(), threading.Event()
    context = contextvars.copy_context()

    def beat() -> None:
        while not stop.wait(interval):
            context.run(activity.heartbeat, *details())

    thread = threading.Thread(target=beat, name="activity-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()

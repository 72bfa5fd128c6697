"""Activities wait out a database outage in place instead of spending their retries on it.

PostgreSQL restarting takes seconds to a minute; Temporal's retry policy (1 + 2 + 4 + 8 s) may not
outlast it on a loaded machine. Every activity is idempotent, so it is simply run again here, still
heartbeating, until the database answers or `outage_s` has passed; then Temporal retries as usual.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.worker import (
    ActivityInboundInterceptor,
    ActivityOutboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

from activities.heartbeats import beat_interval_s
from voxflow.db.engine import is_database_down
from voxflow.retrying import backoff

log = logging.getLogger("voxflow.activities")


class WaitOutDatabase(Interceptor):
    """Worker interceptor: reruns an activity whose database went away, for up to `outage_s`."""

    def __init__(self, outage_s: float) -> None:
        self.outage_s = outage_s

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _WaitingActivity(next, self.outage_s)


class _LastBeat(ActivityOutboundInterceptor):
    """Remembers the latest heartbeat details, so beats sent while waiting keep them."""

    def __init__(self, next: ActivityOutboundInterceptor) -> None:
        super().__init__(next)
        self.details: Sequence[Any] = ()

    def heartbeat(self, *details: Any) -> None:
        self.details = details
        super().heartbeat(*details)


class _WaitingActivity(ActivityInboundInterceptor):
    """Wraps the activity's function (async, or sync in the thread pool) in the waiting loop.

    The function is wrapped rather than the rest of the chain rerun: the SDK sets a thread-pool
    activity's heartbeat up once per run of the chain, and a second setup would nest it.
    """

    def __init__(self, next: ActivityInboundInterceptor, outage_s: float) -> None:
        super().__init__(next)
        self.outage_s = outage_s
        self.last_beat: _LastBeat | None = None

    def init(self, outbound: ActivityOutboundInterceptor) -> None:
        self.last_beat = _LastBeat(outbound)
        super().init(self.last_beat)

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        fn = input.fn
        wrapped = self._async(fn) if inspect.iscoroutinefunction(fn) else self._in_thread(fn)
        return await self.next.execute_activity(dataclasses.replace(input, fn=wrapped))

    def _async(self, fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def waiting(*args: Any) -> Any:
            delays = self._delays()
            while True:
                try:
                    return await fn(*args)
                except Exception as error:
                    end = time.monotonic() + delays.after(error)
                    while (left := end - time.monotonic()) > 0:
                        activity.heartbeat(*self._details())
                        await asyncio.sleep(min(beat_interval_s(), left))

        return waiting

    def _in_thread(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def waiting(*args: Any) -> Any:
            delays = self._delays()
            while True:
                try:
                    return fn(*args)
                except Exception as error:
                    end = time.monotonic() + delays.after(error)
                    while (left := end - time.monotonic()) > 0:
                        activity.heartbeat(*self._details())
                        time.sleep(min(beat_interval_s(), left))

        return waiting

    def _delays(self) -> _Patience:
        return _Patience(time.monotonic() + self.outage_s)

    def _details(self) -> Sequence[Any]:
        return self.last_beat.details if self.last_beat else ()


class _Patience:
    """The next wait after a database error, or the error itself when it is not one or too late."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.delays = backoff()

    def after(self, error: Exception) -> float:
        delay = next(self.delays)
        final = isinstance(error, ApplicationError) and error.non_retryable
        if final or not is_database_down(error) or time.monotonic() + delay > self.deadline:
            raise error
        info = activity.info()
        log.warning(
            "%s for %s: database unavailable (%s); running it again in %.1fs",
            info.activity_type, info.workflow_id, str(error).splitlines()[0], delay,
        )  # fmt: skip
        return delay

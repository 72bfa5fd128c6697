"""One log line per activity start and end, so a worker's log says what it did and what failed."""

from __future__ import annotations

import logging
import time
from typing import Any

from temporalio import activity
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

log = logging.getLogger("voxflow.activities")
DONE = "%s done in %.1fs"  # what, seconds (bench/e2e.py parses it)
# What `activity.raise_complete_async()` raises; the SDK gives the marker no public name.
COMPLETES_ASYNC = activity._CompleteAsyncError


class ActivityLogging(Interceptor):
    """Worker interceptor: wraps every activity in `_LoggedActivity`."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _LoggedActivity(next)


class _LoggedActivity(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        what = f"{info.activity_type} for {info.workflow_id} (attempt {info.attempt})"
        log.info("%s started", what)
        started = time.monotonic()
        try:
            result = await self.next.execute_activity(input)
        except COMPLETES_ASYNC:
            log.info("%s handed to the queue after %.1fs", what, time.monotonic() - started)
            raise
        except BaseException as error:
            log.warning("%s failed after %.1fs: %s", what, time.monotonic() - started, error)
            raise
        log.info(DONE, what, time.monotonic() - started)
        return result

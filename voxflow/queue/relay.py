"""`voxflow worker relay`: results into the database, then complete the waiting activity.

The relay is the application side of queue mode. It writes segment outcomes first and
acknowledges last, so a crash or a broker restart at any point leads to a redelivery whose
writes are idempotent. A result for an activity that no longer waits (completed already, or
timed out and retried) is dropped: Temporal answers NOT_FOUND.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aio_pika.abc import AbstractIncomingMessage
from pydantic import TypeAdapter, ValidationError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from voxflow.db import make_engine, repository, session_scope
from voxflow.db.engine import DATABASE_DOWN
from voxflow.db.models import SegmentStatus
from voxflow.outcomes import job_totals, record_attempts, record_outcomes
from voxflow.queue import broker
from voxflow.queue.acks import settle
from voxflow.queue.messages import (
    AttemptMessage,
    JobMessage,
    ResultMessage,
    ResultQueueMessage,
    decode_token,
)
from voxflow.retrying import backoff
from voxflow.settings import Settings
from voxflow.temporal_client import connect

log = logging.getLogger("voxflow.relay")
ResultQueueItem = ResultMessage | AttemptMessage
RESULTS_QUEUE: TypeAdapter[ResultQueueItem] = TypeAdapter(ResultQueueMessage)
# Failures that pass by themselves: wait them out in place rather than redeliver.
TEMPORAL_DOWN = {
    RPCStatusCode.UNAVAILABLE,
    RPCStatusCode.DEADLINE_EXCEEDED,
    RPCStatusCode.RESOURCE_EXHAUSTED,
    RPCStatusCode.CANCELLED,
}


def dead_letter_reason(message: AbstractIncomingMessage) -> str:
    """The worker's own reason, or the broker's when it gave up on its delivery limit."""
    headers = message.headers or {}
    if "x-voxflow-error" in headers:
        attempts = headers.get("x-voxflow-attempts", "?")
        return f"failed {attempts} times: {headers['x-voxflow-error']}"
    deaths = headers.get("x-death") or []
    if deaths:
        death = deaths[0]
        return (
            f"the broker dead-lettered the job ({death.get('reason')}) after "
            f"{death.get('count', '?')} deliveries: workers crashed or stalled on it"
        )
    return "dead-lettered for an unknown reason"


class ResultRelay:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = make_engine(settings.database_url)
        self.completed = 0
        self.dropped = 0
        self.failed = 0
        self.in_flight: set[asyncio.Task] = set()
        self.stopping = asyncio.Event()  # set on shutdown: retry loops give their message back

    async def run(self, stop: asyncio.Event) -> None:
        temporal = await connect(self.settings, "the result relay")
        self.temporal = temporal

        async def subscribe(topology: broker.Topology):
            return [
                (topology.results, await topology.results.consume(self._tracked(self._on_result))),
                (
                    topology.dead_queue,
                    await topology.dead_queue.consume(self._tracked(self._on_dead)),
                ),
            ]

        connection, _, topology, consumers = await broker.open_consumer(
            self.settings, 32, subscribe
        )
        try:
            log.info("relay consuming %s and %s", topology.results.name, topology.dead_queue.name)
            await stop.wait()
            self.stopping.set()
            log.info("relay stopping: %d messages in flight", len(self.in_flight))
            for queue, tag in consumers:
                await queue.cancel(tag)
            await asyncio.gather(*self.in_flight, return_exceptions=True)
        finally:
            await connection.close()
            self.engine.dispose()

    def _tracked(self, handler):
        async def wrapper(message: AbstractIncomingMessage) -> None:
            task = asyncio.current_task()
            assert task is not None
            self.in_flight.add(task)
            try:
                await handler(message)
            except Exception:  # say why, and hand the message back rather than sit on it
                log.exception("relay failed on message %s; requeued", message.message_id)
                await asyncio.sleep(1.0)
                await settle(message.nack(requeue=True), "nack")
            finally:
                self.in_flight.discard(task)

        return wrapper

    async def _on_result(self, message: AbstractIncomingMessage) -> None:
        try:
            result = RESULTS_QUEUE.validate_json(message.body)
        except ValidationError as error:
            log.error("dropping a malformed result message: %s", error.errors()[0]["msg"])
            await settle(message.ack(), "ack")
            return
        await self._take(message, result)

    async def _take(self, message: AbstractIncomingMessage, result: ResultQueueItem) -> None:
        """Record attempts or outcomes, then complete the activity; acknowledge last."""
        if isinstance(result, AttemptMessage):
            if await self._persist(result.job_id, self._record_attempts, result):
                await settle(message.ack(), "ack")
            return
        if not await self._persist(result.job_id, self._record, result):
            return
        handle = self.temporal.get_async_activity_handle(task_token=decode_token(result.task_token))
        # A job that failed for good arrives as a dead letter (_on_dead), never as a result.
        totals = job_totals(result.segments)
        if await self._settle_activity(lambda: handle.complete(totals), message, result.job_id):
            self.completed += 1
            log.info(
                "job %s: %d outcomes recorded (%d failed); activity completed",
                result.job_id, len(result.segments), totals.failed,
            )  # fmt: skip

    async def _on_dead(self, message: AbstractIncomingMessage) -> None:
        try:
            job = JobMessage.model_validate_json(message.body)
        except ValidationError:
            await self._on_dead_result(message)
            return
        reason = dead_letter_reason(message)
        if not await self._persist(job.job_id, self._record_dead, job, reason):
            return
        handle = self.temporal.get_async_activity_handle(task_token=decode_token(job.task_token))
        error = ApplicationError(
            f"job dead-lettered: {reason}", type="JobDeadLettered", non_retryable=True
        )
        if await self._settle_activity(lambda: handle.fail(error), message, job.job_id):
            self.failed += 1

    async def _on_dead_result(self, message: AbstractIncomingMessage) -> None:
        """A result the broker dead-lettered (relays died holding it too often) still counts."""
        try:
            result = RESULTS_QUEUE.validate_json(message.body)
        except ValidationError:
            log.error("dropping a dead-lettered message that is not a job: %r", message.body[:200])
            await settle(message.ack(), "ack")
            return
        log.warning(
            "job %s: %s; recording it all the same", result.job_id, dead_letter_reason(message)
        )
        await self._take(message, result)

    async def _persist(self, job_id: str, write: Callable[..., None], *args: object) -> bool:
        """Run a database write until it lands (PostgreSQL may be restarting); False on stop."""
        for delay in backoff():
            if self.stopping.is_set():
                return False  # not acknowledged: the broker redelivers it to the next relay
            try:
                await asyncio.to_thread(write, *args)
                return True
            except DATABASE_DOWN as error:
                reason = str(error).splitlines()[0]
                log.warning(
                    "job %s: database unavailable (%s); again in %.1fs", job_id, reason, delay
                )
                await asyncio.sleep(delay)
        raise AssertionError("backoff() never ends")

    async def _settle_activity(
        self, call: Callable[[], Awaitable[None]], message: AbstractIncomingMessage, job_id: str
    ) -> bool:
        """True when the activity took the outcome; NOT_FOUND means nobody waits any more.

        While Temporal is unreachable (a restart) the call is retried here, holding the message,
        rather than requeued: a requeue counts towards the queue's delivery limit.
        """
        for delay in backoff():
            try:
                await call()
                break
            except RPCError as error:
                if error.status == RPCStatusCode.NOT_FOUND:
                    log.info("job %s: activity already completed or timed out; dropping", job_id)
                    self.dropped += 1
                    await settle(message.ack(), "ack")
                    return False
                if error.status in TEMPORAL_DOWN and not self.stopping.is_set():
                    log.warning(
                        "job %s: Temporal unavailable (%s); again in %.1fs", job_id, error, delay
                    )
                    await asyncio.sleep(delay)
                    continue
                log.warning("job %s: Temporal refused (%s); redelivering", job_id, error)
                await asyncio.sleep(1.0)
                await settle(message.nack(requeue=True), "nack")
                return False
        await settle(message.ack(), "ack")
        return True

    def _record_attempts(self, attempt: AttemptMessage) -> None:
        with session_scope(self.engine) as session:
            record_attempts(session, attempt.segment_ids)

    def _record(self, result: ResultMessage) -> None:
        with session_scope(self.engine) as session:
            record_outcomes(session, result.segments)

    def _record_dead(self, job: JobMessage, reason: str) -> None:
        """Mark the job's unfinished segments failed with the reason, for the chapter page."""
        with session_scope(self.engine) as session:
            statuses = repository.segment_statuses(session, [s.segment_id for s in job.segments])
            repository.mark_segments(
                session,
                [
                    repository.SegmentUpdate(
                        id=s.segment_id, status=SegmentStatus.failed, error=reason[:2000]
                    )
                    for s in job.segments
                    if statuses.get(s.segment_id) != SegmentStatus.done
                ],
            )

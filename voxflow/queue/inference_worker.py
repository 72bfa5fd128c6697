"""`voxflow worker inference --pool cpu|gpu`: consume jobs, synthesise, publish results.

Each job is acknowledged only after its result is confirmed by the broker, so a crash at any
point redelivers it; the content-addressed store makes the redelivery cheap and duplicate-free.
A job that keeps failing is dead-lettered with its reason after `queue_max_attempts`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time

import aio_pika
import aiormq
from aio_pika.abc import AbstractIncomingMessage
from pydantic import ValidationError
from temporalio.client import Client

from voxflow.artifacts import open_store
from voxflow.errors import VoxflowError
from voxflow.inference import InferenceError, TorchServeClient
from voxflow.queue import broker
from voxflow.queue.acks import settle
from voxflow.queue.messages import AttemptMessage, JobMessage, ResultMessage, decode_token
from voxflow.retrying import backoff
from voxflow.settings import Settings
from voxflow.synthesis import SegmentWork, Target, synthesize_through_outages
from voxflow.temporal_client import connect

log = logging.getLogger("voxflow.inference_worker")
HEARTBEAT_EVERY_S = 5.0


async def _first_of(*events: asyncio.Event) -> None:
    """Return as soon as any of the events is set."""
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    _, pending = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    for waiter in pending:
        waiter.cancel()


def delivery_attempt(message: AbstractIncomingMessage) -> int:
    """1 for the first delivery; quorum queues count redeliveries in x-delivery-count."""
    count = (message.headers or {}).get("x-delivery-count") or 0
    return int(count) + 1


class InferenceWorker:
    def __init__(self, settings: Settings, pool: str, name: str | None = None) -> None:
        self.settings = settings
        self.pool = pool
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self.store = open_store(settings)
        self.client = TorchServeClient(settings)
        self.temporal: Client | None = None
        self.in_flight: set[asyncio.Task] = set()
        self.synthesizing: dict[str, asyncio.Future[float]] = {}  # audio key → its synthesis
        self.processed = 0
        # Set when the broker refuses this worker for good (permissions): it must exit non-zero
        # so its supervisor restarts it and the reason lands in its log, not stall silently.
        self.failure: VoxflowError | None = None
        self._halt = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until `stop` is set, then finish what is in flight (SIGTERM in a pod)."""
        self.temporal = await self._temporal()

        async def subscribe(topology: broker.Topology):
            queue = topology.job_queues[self.pool]
            return [(queue, await queue.consume(self._on_message))]

        connection, self.channel, self.topology, consumers = await broker.open_consumer(
            self.settings, self.settings.inference_prefetch, subscribe
        )
        try:
            log.info("inference worker %s consuming %s", self.name, consumers[0][0].name)
            await _first_of(stop, self._halt)
            why = "asked to stop" if stop.is_set() else f"it cannot go on: {self.failure}"
            log.info("inference worker %s stopping: %s", self.name, why)
            for queue, tag in consumers:
                # After a refusal the broker has closed the channel: nothing left to cancel.
                with contextlib.suppress(aiormq.exceptions.AMQPError, RuntimeError):
                    await queue.cancel(tag)
            if self.in_flight:
                log.info("finishing %d jobs in flight before exit", len(self.in_flight))
                await asyncio.gather(*self.in_flight, return_exceptions=True)
        finally:
            await self.client.aclose()
            await connection.close()
        if self.failure is not None:
            raise self.failure

    async def _temporal(self) -> Client | None:
        """Heartbeats are best-effort: a worker that cannot reach Temporal still does its job."""
        try:
            return await connect(self.settings, "the inference worker")
        except VoxflowError as error:
            log.warning("no Temporal heartbeats: %s", error)
            return None

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.in_flight.add(task)
        try:
            await self._handle(message)
        except VoxflowError as error:
            log.error("inference worker %s stops: %s", self.name, error)
            self.failure = error
            self._halt.set()
        finally:
            self.in_flight.discard(task)

    async def _handle(self, message: AbstractIncomingMessage) -> None:
        try:
            job = JobMessage.model_validate_json(message.body)
        except ValidationError as error:
            reason = f"malformed job message: {error.errors()[0]['msg']}"
            await self._dead_letter(message, reason, attempts=delivery_attempt(message))
            return
        attempt, started = delivery_attempt(message), time.monotonic()
        heartbeat = asyncio.create_task(self._heartbeat(job))
        try:
            outcomes = await synthesize_through_outages(
                [SegmentWork(s.segment_id, s.index, s.text, s.audio_key) for s in job.segments],
                Target(job.model, job.version, job.params),
                self.client,
                self.store,
                outage_s=self.settings.torchserve_outage_s,
                what=f"job {job.job_id}",
                in_flight=self.synthesizing,
                before_synthesis=lambda ids: self._publish_attempt(job, ids),
            )
        except InferenceError as error:
            if attempt >= self.settings.queue_max_attempts:
                await self._dead_letter(message, str(error), attempts=attempt)
            else:
                delay = min(2.0**attempt, 30.0)
                log.warning(
                    "job %s attempt %d failed (%s); requeue in %.0fs",
                    job.job_id,
                    attempt,
                    error,
                    delay,
                )
                await asyncio.sleep(delay)
                await settle(message.nack(requeue=True), "nack")
            return
        finally:
            heartbeat.cancel()
        result = ResultMessage(
            job_id=job.job_id,
            task_token=job.task_token,
            workflow_id=job.workflow_id,
            activity_id=job.activity_id,
            status="ok",
            worker=self.name,
            segments=outcomes,
        )
        await self._publish_durably(
            self.topology.results_exchange,
            broker.persistent(result),
            broker.RESULT_ROUTING_KEY,
            "result of " + job.job_id,
        )
        await settle(message.ack(), "ack")
        self.processed += 1
        made = sum(1 for o in outcomes if o.status == "done" and not o.reused)
        failed = sum(1 for o in outcomes if o.status == "failed")
        log.info(
            "job %s (delivery %d): %d synthesised, %d reused, %d failed in %.1fs",
            job.job_id, attempt, made, len(outcomes) - made - failed, failed,
            time.monotonic() - started,
        )  # fmt: skip

    async def _publish_attempt(self, job: JobMessage, segment_ids: list[int]) -> None:
        """Confirmed by the broker before the model is called, so a crash cannot lose it."""
        attempt = AttemptMessage(job_id=job.job_id, segment_ids=segment_ids, worker=self.name)
        await self._publish_durably(
            self.topology.results_exchange,
            broker.persistent(attempt),
            broker.RESULT_ROUTING_KEY,
            "attempts of " + job.job_id,
        )

    async def _publish_durably(
        self,
        exchange: aio_pika.abc.AbstractExchange,
        body: aio_pika.Message,
        routing_key: str,
        what: str,
    ) -> None:
        """Publish until the broker confirms it (it may restart); a refusal is final."""
        for delay in backoff():
            try:
                await exchange.publish(body, routing_key=routing_key)
                return
            except aiormq.exceptions.ChannelAccessRefused as error:
                raise broker.fatal_refusal(self.settings, what, error) from error
            except Exception as error:  # broker restarting: the robust channel comes back
                log.warning("publishing %s failed (%s); retrying in %.1fs", what, error, delay)
                await asyncio.sleep(delay)

    async def _dead_letter(
        self, message: AbstractIncomingMessage, reason: str, attempts: int
    ) -> None:
        """Send the job to the dead-letter exchange with why, then drop the original."""
        log.error("dead-lettering job after %d attempts: %s", attempts, reason)
        dead = aio_pika.Message(
            message.body,
            content_type=message.content_type,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=message.message_id,
            headers={"x-voxflow-error": reason[:2000], "x-voxflow-attempts": attempts},
        )
        await self._publish_durably(self.topology.dead, dead, "", "a dead letter")
        await settle(message.ack(), "ack")

    async def _heartbeat(self, job: JobMessage) -> None:
        """Keep the waiting activity alive while this worker holds its job."""
        if self.temporal is None:
            return
        handle = self.temporal.get_async_activity_handle(task_token=decode_token(job.task_token))
        while True:
            with contextlib.suppress(Exception):
                await handle.heartbeat(self.name)
            await asyncio.sleep(HEARTBEAT_EVERY_S)

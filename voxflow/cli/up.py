"""`voxflow up`: the embedded local stack in the foreground until Ctrl-C."""

import signal
import threading

import typer
from rich.console import Console
from rich.table import Table

from voxflow.cli.app import app
from voxflow.settings import get_settings

console = Console()


@app.command()
def up(
    torchserve: bool = typer.Option(True, help="Also run TorchServe with the built model store."),
    dispatch: str = typer.Option(
        None, help="direct (activities call TorchServe) or queue (RabbitMQ workers)."
    ),
) -> None:
    """Run Temporal (dev server + UI), TorchServe and a Temporal worker until Ctrl-C."""
    from voxflow.db import migrate
    from voxflow.stack import LocalStack

    settings = get_settings()
    if dispatch:
        if dispatch not in {"direct", "queue"}:
            raise typer.BadParameter("choose direct or queue", param_hint="--dispatch")
        settings = settings.model_copy(update={"dispatch": dispatch})
    migrate(settings.database_url)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    stack = LocalStack(settings, torchserve=torchserve)
    with console.status("starting the local stack…"):
        stack.__enter__()
    try:
        table = Table(title="Voxflow local stack", show_header=False)
        for part, where in stack.describe():
            table.add_row(part, where)
        console.print(table)
        console.print("Ctrl-C stops every part. Convert with `voxflow convert FILE`.")
        while not stopped.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        with console.status("stopping the local stack…"):
            stack.__exit__(None, None, None)

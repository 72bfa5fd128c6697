"""`voxflow serve`: TorchServe in the foreground with the built model store, until Ctrl-C."""

import signal
import threading

import typer
from rich.console import Console

from voxflow.cli.app import app
from voxflow.settings import get_settings

console = Console()


@app.command()
def serve(
    voices: list[str] = typer.Option(None, "--voice", help="Voices to load (default: all built)."),
    inference_port: int = typer.Option(8080, help="Inference API port."),
    management_port: int = typer.Option(8081, help="Management API port (127.0.0.1 only)."),
    metrics_port: int = typer.Option(8082, help="Prometheus metrics port (/metrics)."),
    build: bool = typer.Option(True, help="Build missing .mar archives first."),
    token_auth: bool = typer.Option(False, help="Turn TorchServe's token authorization on."),
) -> None:
    """Start TorchServe on 127.0.0.1 with the model store; Ctrl-C stops it and its workers."""
    from voxflow.serving.archives import build_model_store
    from voxflow.serving.process import TorchServeProcess

    settings = get_settings()
    if build:
        with console.status("building the model store…"):
            build_model_store(settings, voices or None)
    process = TorchServeProcess(
        settings,
        models=voices or None,
        inference_port=inference_port,
        management_port=management_port,
        metrics_port=metrics_port,
        token_auth=token_auth,
    )
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    with console.status("starting TorchServe…"):
        process.start()
    try:
        console.print(f"TorchServe inference  {process.inference_url}")
        console.print(f"TorchServe management {process.management_url}")
        console.print(f"Prometheus metrics    {process.metrics_url}/metrics")
        console.print(f"models: {', '.join(process.models) or 'none'}; logs: {process.log_dir}")
        if token_auth:
            console.print(f"keys: {process.key_file}")
        console.print("Ctrl-C stops TorchServe.")
        while not stopped.wait(0.5):
            if not process.alive:
                console.print(f"[red]TorchServe exited[/]\n{process.log_tail()}")
                raise typer.Exit(3)
    except KeyboardInterrupt:
        pass
    finally:
        with console.status("stopping TorchServe…"):
            process.stop()

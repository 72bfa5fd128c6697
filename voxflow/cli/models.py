"""`voxflow models`: build archives, and list/register/set-default/unregister via TorchServe."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.table import Table

from voxflow.cli.app import app
from voxflow.settings import get_settings

if TYPE_CHECKING:
    from voxflow.inference import TorchServeClient

console = Console()
models_app = typer.Typer(help="Voice models: build .mar archives, versions and rollback.")
app.add_typer(models_app, name="models")


def with_client(call: Callable[[TorchServeClient], Awaitable[Any]]) -> None:
    """Run one management call against the configured TorchServe (the client loads lazily)."""
    from voxflow.inference import TorchServeClient

    async def run() -> None:
        async with TorchServeClient(get_settings()) as client:
            await call(client)

    asyncio.run(run())


@models_app.command("build")
def build(
    voice: str = typer.Argument("joe", help="Voice name in the model registry."),
    model_dir: Path = typer.Option(
        None, help="Folder of the model (HF save_pretrained, or Piper .onnx + .onnx.json)."
    ),
    version: str = typer.Option(None, help="Archive version (default: the registry's)."),
    device: str = typer.Option(None, help="deviceType for the archive: cpu or gpu."),
    force: bool = typer.Option(False, help="Rebuild even when the archive is up to date."),
) -> None:
    """Build NAME-VERSION.mar into the model store (joe comes from its installed wheel)."""
    import dataclasses

    from voxflow.registry import load_registry
    from voxflow.serving.archives import build_archive

    settings = get_settings()
    entry = load_registry(settings).get(voice)
    if version:
        entry = dataclasses.replace(entry, version=version)
    with console.status(f"archiving {entry.name} {entry.version}…"):
        path = build_archive(
            entry, Path(settings.model_store_dir), model_dir=model_dir, device=device, force=force
        )
    console.print(f"built {path}")


@models_app.command("list")
def list_models() -> None:
    """Registered voices and what TorchServe serves now (versions, default, workers)."""
    from voxflow.inference import TorchServeClient
    from voxflow.registry import load_registry

    settings = get_settings()
    registry = load_registry(settings)

    async def fetch() -> list[dict]:
        async with TorchServeClient(settings, retries=0) as client:
            return await client.list_models()

    served = asyncio.run(fetch())
    table = Table(title=f"TorchServe {settings.torchserve_management_url}")
    for column in ("model", "version", "default", "workers", "pool", "registry version"):
        table.add_column(column)
    for entry in served:
        name = entry["modelName"]
        voice = next((v for v in registry.voices if v.name == name), None)
        ready = sum(1 for w in entry.get("workers", []) if w.get("status") == "READY")
        table.add_row(
            name,
            entry["modelVersion"],
            "yes" if entry.get("isDefault") else "",
            f"{ready}/{len(entry.get('workers', []))}",
            voice.pool if voice else "-",
            voice.version if voice else "-",
        )
    console.print(table)


@models_app.command("register")
def register(
    name: str,
    version: str = typer.Option(..., help="Version: registers NAME-VERSION.mar from the store."),
    workers: int = typer.Option(1, help="Initial workers."),
    make_default: bool = typer.Option(False, "--set-default", help="Then route traffic to it."),
) -> None:
    """Load another version beside the current one (no downtime)."""

    async def load(client: TorchServeClient) -> None:
        await client.register(f"{name}-{version}.mar", initial_workers=workers)
        if make_default:
            await client.set_default(name, version)

    with_client(load)
    console.print(f"registered {name} {version}" + (" (default)" if make_default else ""))


@models_app.command("set-default")
def set_default(name: str, version: str) -> None:
    """Route unversioned requests to VERSION: the roll-forward and the rollback."""
    with_client(lambda client: client.set_default(name, version))
    console.print(f"{name}: default version is now {version}")


@models_app.command("unregister")
def unregister(name: str, version: str) -> None:
    """Unload one version (not the default one: set another default first)."""
    with_client(lambda client: client.unregister(name, version))
    console.print(f"unregistered {name} {version}")

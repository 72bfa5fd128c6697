"""`voxflow store pull`: copy artifacts out of the configured store, for init containers."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from voxflow.artifacts import open_store
from voxflow.artifacts.transfer import pull as pull_artifacts
from voxflow.cli.app import app
from voxflow.errors import ConfigError
from voxflow.settings import get_settings

store_app = typer.Typer(
    help="Read the artifact store (local folder or OCI bucket).", no_args_is_help=True
)
app.add_typer(store_app, name="store")


@store_app.command("pull")
def pull(
    prefix: str = typer.Argument(..., help="Key prefix, e.g. models/cpu/."),
    dest: Path = typer.Argument(..., help="Folder to fill; sub-paths below the prefix are kept."),
    suffix: str = typer.Option("", help="Only keys ending with this, e.g. .mar."),
    require: bool = typer.Option(False, help="Fail when nothing matched."),
) -> None:
    """Copy every artifact under PREFIX into DEST: TorchServe pods fetch their .mar files so."""
    store = open_store(get_settings())
    pulled = pull_artifacts(store, prefix, dest, suffix)
    console = Console(highlight=False, soft_wrap=True)
    for path in pulled:
        console.print(f"pulled {path} ({path.stat().st_size} bytes)")
    if require and not pulled:
        raise ConfigError(
            f"nothing under {prefix!r} ending in {suffix!r} in {store!r}; "
            "upload the model archives there first (deploy/README.md, section 7)"
        )

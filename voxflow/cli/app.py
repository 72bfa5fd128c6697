"""The root `voxflow` Typer app that every command module registers on."""

import typer

app = typer.Typer(
    name="voxflow",
    help="Turn whole documents into narrated audio.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

"""`voxflow` console script: user errors become one line on stderr and a non-zero exit."""

import logging
import sys

from rich.console import Console

from voxflow.cli.app import app
from voxflow.errors import VoxflowError

# Command modules register themselves on `app` when imported.
from voxflow.cli import parse  # noqa: F401  isort: skip
from voxflow.cli import db  # noqa: F401  isort: skip
from voxflow.cli import worker  # noqa: F401  isort: skip
from voxflow.cli import up  # noqa: F401  isort: skip
from voxflow.cli import convert  # noqa: F401  isort: skip
from voxflow.cli import models  # noqa: F401  isort: skip
from voxflow.cli import serve  # noqa: F401  isort: skip
from voxflow.cli import store  # noqa: F401  isort: skip
from voxflow.cli import web  # noqa: F401  isort: skip
from voxflow.cli import studio  # noqa: F401  isort: skip
from voxflow.cli import qa  # noqa: F401  isort: skip

__all__ = ["app", "main"]


def main() -> None:
    # Library warnings (a refused broker connection, say) must not leak raw onto the terminal;
    # worker commands configure real logging themselves.
    logging.getLogger().addHandler(logging.NullHandler())
    try:
        app()
    except VoxflowError as error:
        Console(stderr=True).print(f"[bold red]error:[/] {error}", highlight=False, soft_wrap=True)
        sys.exit(error.exit_code)

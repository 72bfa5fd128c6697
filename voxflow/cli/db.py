"""`voxflow db upgrade`: apply the packaged migrations to the configured database."""

from __future__ import annotations

import typer
from rich.console import Console
from sqlalchemy.engine import make_url

from voxflow.cli.app import app
from voxflow.settings import get_settings

db_app = typer.Typer(help="Manage the Voxflow database.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def upgrade(
    revision: str = typer.Argument("head", help="Alembic revision to migrate to."),
) -> None:
    """Create or migrate the tables in VOXFLOW_DATABASE_URL (SQLite under data_dir by default)."""
    from voxflow.db.migrate import current_revision, migrate

    url = get_settings().database_url
    migrate(url, revision)
    shown = make_url(url).render_as_string(hide_password=True)
    Console().print(
        f"database {shown} is at revision {current_revision(url)}", highlight=False, soft_wrap=True
    )

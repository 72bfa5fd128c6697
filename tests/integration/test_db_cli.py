"""`voxflow db upgrade` migrates the database named by VOXFLOW_DATABASE_URL."""

from __future__ import annotations

import sqlalchemy as sa
from typer.testing import CliRunner

from tests.integration.test_db_migrations import head
from voxflow.cli import app
from voxflow.settings import get_settings


def test_db_upgrade_cli(sqlite_url, monkeypatch, tmp_path):
    monkeypatch.setenv("VOXFLOW_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("VOXFLOW_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["db", "upgrade"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert f"at revision {head()}" in result.output
    engine = sa.create_engine(sqlite_url)
    try:
        with engine.connect() as connection:
            names = set(sa.inspect(connection).get_table_names())
    finally:
        engine.dispose()
    assert {"project", "chapter", "segment", "conversion", "alembic_version"} <= names

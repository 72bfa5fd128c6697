"""Engines and sessions configured for both SQLite (local default) and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session

SQLITE_BUSY_TIMEOUT_MS = 30_000
# What a database that is restarting, unreachable or briefly locked raises: worth waiting out.
DATABASE_DOWN = (sa.exc.OperationalError, sa.exc.InterfaceError)


def is_database_down(error: BaseException) -> bool:
    """True when `error`, or an error it was raised from, is the database being unavailable."""
    chain: list[BaseException] = []
    while error is not None and error not in chain:
        if isinstance(error, DATABASE_DOWN):
            return True
        chain.append(error)
        error = error.__cause__ or error.__context__
    return False


def make_engine(url: str, **kwargs) -> Engine:
    """An engine with the settings each backend needs for several processes sharing it."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        connect_args = {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        engine = sa.create_engine(parsed, connect_args=connect_args, **kwargs)
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return sa.create_engine(parsed, pool_pre_ping=True, **kwargs)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    """WAL lets the web app read while workers write; foreign keys are off in SQLite by default."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One transaction: commit on success, roll back on error; objects stay readable after."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise

"""The database: SQLModel tables, engines, packaged Alembic migrations and the kernel repository."""

from voxflow.db.engine import make_engine, session_scope
from voxflow.db.migrate import migrate

__all__ = ["make_engine", "migrate", "session_scope"]

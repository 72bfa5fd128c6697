"""A partial unique index for the shared lexicon: the scope index never compared NULL scopes.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SHARED = sa.text("project_id IS NULL")


def upgrade() -> None:
    # Concurrent writers could add a shared term twice: keep the newest of each.
    op.execute(
        "DELETE FROM lexiconentry WHERE project_id IS NULL AND id NOT IN "
        "(SELECT MAX(id) FROM lexiconentry WHERE project_id IS NULL "
        "GROUP BY term_key, case_sensitive)"
    )
    op.create_index(
        "ix_lexiconentry_shared_term",
        "lexiconentry",
        ["term_key", "case_sensitive"],
        unique=True,
        sqlite_where=SHARED,
        postgresql_where=SHARED,
    )


def downgrade() -> None:
    op.drop_index("ix_lexiconentry_shared_term", table_name="lexiconentry")

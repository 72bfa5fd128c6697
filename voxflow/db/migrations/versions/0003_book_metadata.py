"""project.author, year, language and cover_key: the book metadata the audio files carry.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-09
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    ("author", sa.Text()),
    ("year", sa.String(4)),
    ("language", sa.String(35)),
    ("cover_key", sa.String(1024)),
)


def upgrade() -> None:
    # Nullable: projects imported before this revision have no metadata, and books may lack it.
    with op.batch_alter_table("project") as batch:
        for name, type_ in COLUMNS:
            batch.add_column(sa.Column(name, type_, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("project") as batch:
        for name, _ in reversed(COLUMNS):
            batch.drop_column(name)

"""segment.take and segmenttake: another rendering on request, and the history of renderings.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("segment") as batch:
        batch.add_column(sa.Column("take", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "segmenttake",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("segment_id", sa.Integer(), nullable=False),
        sa.Column("take", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("audio_key", sa.String(length=1024), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["segment_id"],
            ["segment.id"],
            name=op.f("fk_segmenttake_segment_id_segment"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segmenttake")),
    )
    op.create_index(
        "ix_segmenttake_segment_key", "segmenttake", ["segment_id", "audio_key"], unique=True
    )


def downgrade() -> None:
    op.drop_index("ix_segmenttake_segment_key", table_name="segmenttake")
    op.drop_table("segmenttake")
    with op.batch_alter_table("segment") as batch:
        batch.drop_column("take")

"""Speech QA: project.speech_qa and qa_retakes, segment.source_text, and segmentcheck.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("project") as batch:
        batch.add_column(
            sa.Column("speech_qa", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("qa_retakes", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("segment") as batch:
        batch.add_column(sa.Column("source_text", sa.Text(), nullable=True))
    op.create_table(
        "segmentcheck",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("segment_id", sa.Integer(), nullable=False),
        sa.Column("audio_key", sa.String(length=1024), nullable=False),
        sa.Column("take", sa.Integer(), nullable=False),
        sa.Column("expected", sa.Text(), nullable=False),
        sa.Column("heard", sa.Text(), nullable=False),
        sa.Column("wer", sa.Float(), nullable=False),
        sa.Column("missing", sa.Text(), nullable=False),
        sa.Column("added", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("recognizer", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["segment_id"],
            ["segment.id"],
            name=op.f("fk_segmentcheck_segment_id_segment"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segmentcheck")),
    )
    op.create_index(
        "ix_segmentcheck_segment_key", "segmentcheck", ["segment_id", "audio_key"], unique=True
    )


def downgrade() -> None:
    op.drop_index("ix_segmentcheck_segment_key", table_name="segmentcheck")
    op.drop_table("segmentcheck")
    with op.batch_alter_table("segment") as batch:
        batch.drop_column("source_text")
    with op.batch_alter_table("project") as batch:
        batch.drop_column("qa_retakes")
        batch.drop_column("speech_qa")

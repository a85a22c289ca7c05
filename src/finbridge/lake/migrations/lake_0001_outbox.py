"""lake: transactional outbox

Revision ID: lake_0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "lake_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("lake",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "lake_outbox",
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("schema_version", sa.Integer(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("subject_id", sa.String(64), nullable=True),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_lake_outbox")),
        sa.UniqueConstraint("event_id", name=op.f("uq_lake_outbox_event_id")),
    )
    op.create_index("ix_lake_outbox_unpublished", "lake_outbox", ["published_at", "seq"])


def downgrade() -> None:
    op.drop_index("ix_lake_outbox_unpublished", table_name="lake_outbox")
    op.drop_table("lake_outbox")

"""lake: partner file ingestions and their rejection reports

Revision ID: lake_0002
Revises: lake_0001
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "lake_0002"
down_revision: str | Sequence[str] | None = "lake_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "lake_ingestions",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("filename", sa.String(255), nullable=True),
        sa.Column("format", sa.String(16), nullable=False),
        sa.Column("file_hash", sa.String(64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("total_rows", sa.BigInteger(), nullable=False),
        sa.Column("accepted_rows", sa.BigInteger(), nullable=False),
        sa.Column("rejected_rows", sa.BigInteger(), nullable=False),
        sa.Column("rejections", sa.JSON(), nullable=False),
        sa.Column("actor_id", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lake_ingestions")),
        sa.UniqueConstraint(
            "source", "file_hash", name=op.f("uq_lake_ingestions_source_file_hash")
        ),
    )
    op.create_index("ix_lake_ingestions_created_at", "lake_ingestions", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_lake_ingestions_created_at", table_name="lake_ingestions")
    op.drop_table("lake_ingestions")

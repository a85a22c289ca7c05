"""openbanking: developers signing up (an operator approves; a claim code fetches the key once)

Revision ID: openbanking_0009
Revises: openbanking_0008
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "openbanking_0009"
down_revision: str | Sequence[str] | None = "openbanking_0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "openbanking_developers",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("organisation", sa.String(length=200), nullable=False),
        sa.Column("website", sa.String(length=500), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("claim_hash", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_openbanking_developers")),
        sa.UniqueConstraint("claim_hash", name=op.f("uq_openbanking_developers_claim_hash")),
    )


def downgrade() -> None:
    op.drop_table("openbanking_developers")

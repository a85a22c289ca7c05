"""banking: definitive refusals kept under their idempotency key

Revision ID: banking_0005
Revises: banking_0004
Create Date: 2026-12-06

A key's first definitive answer is what every retry gets: a success is its journal entry, a
business refusal (insufficient funds, a risk decline, a bound) is a row here.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "banking_0005"
down_revision: str | Sequence[str] | None = "banking_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "banking_refusals",
        sa.Column("idempotency_key", sa.String(300), nullable=False),
        sa.Column("request_fingerprint", sa.String(64), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("detail", sa.String(1000), nullable=False),
        sa.Column("field", sa.String(64), nullable=True),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("idempotency_key", name=op.f("pk_banking_refusals")),
    )


def downgrade() -> None:
    op.drop_table("banking_refusals")

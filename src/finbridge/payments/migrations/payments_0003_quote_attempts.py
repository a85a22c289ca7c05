"""payments: a quote's execution attempt (the journal key is fx:<quote id>:<attempt>)

A journal key's first definitive answer (a posting or a business refusal) is what every retry
under it gets, so a quote given back after a refused execution is executed again under the next
attempt's key, never under the refused one.

Revision ID: payments_0003
Revises: payments_0002
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "payments_0003"
down_revision: str | Sequence[str] | None = "payments_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("payments_quotes") as batch:
        batch.add_column(
            sa.Column("attempt", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )


def downgrade() -> None:
    with op.batch_alter_table("payments_quotes") as batch:
        batch.drop_column("attempt")

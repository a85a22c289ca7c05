"""risk: the outcome of the ledger posting a decision was taken for

Revision ID: risk_0002
Revises: risk_0001
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "risk_0002"
down_revision: str | Sequence[str] | None = "risk_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("risk_decisions", sa.Column("posting_outcome", sa.String(8), nullable=True))
    op.add_column("risk_decisions", sa.Column("posting_error", sa.Text(), nullable=True))


def downgrade() -> None:
    # SQLite drops a column only by rebuilding the table: batch mode does that.
    with op.batch_alter_table("risk_decisions") as batch:
        batch.drop_column("posting_error")
        batch.drop_column("posting_outcome")

"""payments: a cross-border transfer's FX quote and its risk case

``quote_id``: the transfer was paid in another currency through that quote (converted into the
customer's wallet in the sent currency, then held there). ``case_id``: the risk engine's case a
screening hit opened; closing it releases or blocks the transfer.

Revision ID: payments_0004
Revises: payments_0003
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "payments_0004"
down_revision: str | Sequence[str] | None = "payments_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("payments_crossborder") as batch:
        batch.add_column(sa.Column("quote_id", sa.String(length=36), nullable=True))
        batch.add_column(sa.Column("case_id", sa.String(length=36), nullable=True))
        batch.create_index("ix_payments_crossborder_case", ["case_id"])


def downgrade() -> None:
    with op.batch_alter_table("payments_crossborder") as batch:
        batch.drop_index("ix_payments_crossborder_case")
        batch.drop_column("case_id")
        batch.drop_column("quote_id")

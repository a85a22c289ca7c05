"""payments: a merchant payment made from a credit line names lending's purchase

``purchase_id``: lending's purchase (hold then capture on the line) that paid it; a refund of
the payment is refunded onto that purchase.

Revision ID: payments_0005
Revises: payments_0004
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "payments_0005"
down_revision: str | Sequence[str] | None = "payments_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("payments_payments") as batch:
        batch.add_column(sa.Column("purchase_id", sa.String(length=36), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("payments_payments") as batch:
        batch.drop_column("purchase_id")

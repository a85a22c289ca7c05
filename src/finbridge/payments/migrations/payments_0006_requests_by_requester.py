"""payments: a customer's request-money links, newest first (the app lists them)

Revision ID: payments_0006
Revises: payments_0005
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "payments_0006"
down_revision: str | Sequence[str] | None = "payments_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_payments_requests_requester",
        "payments_requests",
        ["requester_customer_id", "created_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_payments_requests_requester", table_name="payments_requests")

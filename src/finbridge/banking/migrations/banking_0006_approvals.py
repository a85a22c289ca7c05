"""banking: operator movements waiting for a second operator (dual control)

Revision ID: banking_0006
Revises: banking_0005
Create Date: 2026-12-06

An operator's transfer or withdrawal that needs dual control is kept here, pending, until a
different operator approves it (then it posts under the maker's idempotency key), declines it,
or it expires.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "banking_0006"
down_revision: str | Sequence[str] | None = "banking_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "banking_approvals",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("idempotency_key", sa.String(300), nullable=False),
        sa.Column("request_fingerprint", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("from_account_id", sa.String(36), nullable=False),
        sa.Column("to_account_id", sa.String(36), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("description", sa.String(500), nullable=False),
        sa.Column("channel", sa.String(32), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("maker_id", sa.String(80), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("guard_version", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(80), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.String(500), nullable=False),
        sa.Column("entry_id", sa.String(36), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_banking_approvals")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_banking_approvals_idempotency_key")),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_banking_approvals_positive")),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'declined', 'expired', 'failed')",
            name=op.f("ck_banking_approvals_status"),
        ),
    )
    op.create_index("ix_banking_approvals_queue", "banking_approvals", ["status", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_banking_approvals_queue", table_name="banking_approvals")
    op.drop_table("banking_approvals")

"""payments: cross-border transfers (ISO 20022)

Revision ID: payments_0002
Revises: payments_0001
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "payments_0002"
down_revision: str | Sequence[str] | None = "payments_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "payments_crossborder",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("idempotency_key", sa.String(length=300), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("hold_id", sa.String(length=36), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("end_to_end_id", sa.String(length=35), nullable=False),
        sa.Column("uetr", sa.String(length=36), nullable=False),
        sa.Column("beneficiary", sa.JSON(), nullable=False),
        sa.Column("purpose", sa.String(length=4), nullable=True),
        sa.Column("remittance", sa.String(length=140), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("screening_hit", sa.JSON(), nullable=True),
        sa.Column("reason", sa.String(length=140), nullable=True),
        sa.Column("message_id", sa.String(length=35), nullable=True),
        sa.Column("message_xml", sa.Text(), nullable=True),
        sa.Column("entry_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('screening', 'ready', 'sent', 'settled', 'rejected', 'returned',"
            " 'blocked')",
            name=op.f("ck_payments_crossborder_status"),
        ),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_payments_crossborder_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments_crossborder")),
        sa.UniqueConstraint("end_to_end_id", name=op.f("uq_payments_crossborder_end_to_end_id")),
        sa.UniqueConstraint(
            "idempotency_key", name=op.f("uq_payments_crossborder_idempotency_key")
        ),
    )
    op.create_index(
        "ix_payments_crossborder_customer",
        "payments_crossborder",
        ["customer_id", "created_at"],
        unique=False,
    )
    op.create_index(
        "ix_payments_crossborder_status",
        "payments_crossborder",
        ["status", "created_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_payments_crossborder_status", table_name="payments_crossborder")
    op.drop_index("ix_payments_crossborder_customer", table_name="payments_crossborder")
    op.drop_table("payments_crossborder")

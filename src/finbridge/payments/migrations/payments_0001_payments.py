"""payments: FX quotes, merchants and payment codes, payments, refunds, limits, requests

Revision ID: payments_0001
Revises:
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "payments_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("payments",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "payments_codes",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("merchant_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("payment_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(kind = 'static') = (amount_minor IS NULL AND expires_at IS NULL)",
            name=op.f("ck_payments_codes_shape"),
        ),
        sa.CheckConstraint("kind IN ('static', 'dynamic')", name=op.f("ck_payments_codes_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments_codes")),
        sa.UniqueConstraint("payment_id", name=op.f("uq_payments_codes_payment_id")),
    )
    op.create_table(
        "payments_limit_usage",
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("used_minor", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("used_minor >= 0", name=op.f("ck_payments_limit_usage_nonneg")),
        sa.PrimaryKeyConstraint(
            "customer_id", "channel", "day", name=op.f("pk_payments_limit_usage")
        ),
    )
    op.create_table(
        "payments_merchants",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=140), nullable=False),
        sa.Column("mcc", sa.String(length=4), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("settlement_account_id", sa.String(length=36), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("fee_rate", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('active', 'suspended')", name=op.f("ck_payments_merchants_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments_merchants")),
    )
    op.create_table(
        "payments_payments",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("idempotency_key", sa.String(length=300), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("payer_customer_id", sa.String(length=36), nullable=False),
        sa.Column("payer_account_id", sa.String(length=36), nullable=False),
        sa.Column("payee_customer_id", sa.String(length=36), nullable=True),
        sa.Column("payee_account_id", sa.String(length=36), nullable=False),
        sa.Column("merchant_id", sa.String(length=36), nullable=True),
        sa.Column("code_id", sa.String(length=36), nullable=True),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("fee_minor", sa.BigInteger(), nullable=False),
        sa.Column("refunded_minor", sa.BigInteger(), nullable=False),
        sa.Column("fee_refunded_minor", sa.BigInteger(), nullable=False),
        sa.Column("limit_minor", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("entry_id", sa.String(length=36), nullable=True),
        sa.Column("description", sa.String(length=140), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'completed')", name=op.f("ck_payments_payments_status")
        ),
        sa.CheckConstraint(
            "amount_minor > 0 AND fee_minor >= 0", name=op.f("ck_payments_payments_amounts")
        ),
        sa.CheckConstraint(
            "refunded_minor >= 0 AND refunded_minor <= amount_minor"
            " AND fee_refunded_minor >= 0 AND fee_refunded_minor <= fee_minor",
            name=op.f("ck_payments_payments_refund_bounds"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments_payments")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_payments_payments_idempotency_key")),
    )
    op.create_index(
        "ix_payments_payments_merchant",
        "payments_payments",
        ["merchant_id", "created_at"],
        unique=False,
    )
    op.create_index(
        "ix_payments_payments_payer",
        "payments_payments",
        ["payer_customer_id", "created_at"],
        unique=False,
    )
    op.create_table(
        "payments_quotes",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("sell_currency", sa.String(length=3), nullable=False),
        sa.Column("buy_currency", sa.String(length=3), nullable=False),
        sa.Column("sell_minor", sa.BigInteger(), nullable=False),
        sa.Column("fee_minor", sa.BigInteger(), nullable=False),
        sa.Column("buy_minor", sa.BigInteger(), nullable=False),
        sa.Column("rate", sa.String(length=32), nullable=False),
        sa.Column("reference_rate", sa.String(length=32), nullable=False),
        sa.Column("reference_date", sa.String(length=10), nullable=False),
        sa.Column("tier", sa.String(length=16), nullable=False),
        sa.Column("spread_bps", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("entry_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("executed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('open', 'executing', 'executed')", name=op.f("ck_payments_quotes_status")
        ),
        sa.CheckConstraint(
            "sell_minor > 0 AND buy_minor > 0 AND fee_minor >= 0",
            name=op.f("ck_payments_quotes_amounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments_quotes")),
    )
    op.create_index(
        "ix_payments_quotes_customer",
        "payments_quotes",
        ["customer_id", "created_at"],
        unique=False,
    )
    op.create_table(
        "payments_refunds",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("payment_id", sa.String(length=36), nullable=False),
        sa.Column("idempotency_key", sa.String(length=300), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("fee_minor", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("entry_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'completed')", name=op.f("ck_payments_refunds_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments_refunds")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_payments_refunds_idempotency_key")),
    )
    op.create_index("ix_payments_refunds_payment", "payments_refunds", ["payment_id"], unique=False)
    op.create_table(
        "payments_requests",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("requester_customer_id", sa.String(length=36), nullable=False),
        sa.Column("to_account_id", sa.String(length=36), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("note", sa.String(length=140), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("payment_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('open', 'paid')", name=op.f("ck_payments_requests_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments_requests")),
        sa.UniqueConstraint("payment_id", name="uq_payments_requests_payment"),
    )
    op.create_table(
        "payments_tiers",
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("tier", sa.String(length=16), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_payments_tiers")),
    )


def downgrade() -> None:
    op.drop_table("payments_tiers")
    op.drop_table("payments_requests")
    op.drop_index("ix_payments_refunds_payment", table_name="payments_refunds")
    op.drop_table("payments_refunds")
    op.drop_index("ix_payments_quotes_customer", table_name="payments_quotes")
    op.drop_table("payments_quotes")
    op.drop_index("ix_payments_payments_payer", table_name="payments_payments")
    op.drop_index("ix_payments_payments_merchant", table_name="payments_payments")
    op.drop_table("payments_payments")
    op.drop_table("payments_merchants")
    op.drop_table("payments_limit_usage")
    op.drop_table("payments_codes")

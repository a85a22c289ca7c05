"""advisory: risk profiles, suitability evidence, fund orders and holdings

Revision ID: advisory_0001
Revises:
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "advisory_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("advisory",)
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "advisory_profiles",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("customer_id", sa.String(36), nullable=False),
        sa.Column("questionnaire_version", sa.String(32), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("score_category", sa.String(2), nullable=False),
        sa.Column("category", sa.String(2), nullable=False),
        sa.Column("caps", sa.JSON(), nullable=False),
        sa.Column("actor_id", sa.String(64), nullable=False),
        sa.Column("assessed_at", _TS, nullable=False),
        sa.Column("expires_at", _TS, nullable=False),
        sa.CheckConstraint(
            "category IN ('C1','C2','C3','C4','C5')", name=op.f("ck_advisory_profiles_category")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_advisory_profiles")),
    )
    op.create_index(
        "ix_advisory_profiles_customer_assessed",
        "advisory_profiles",
        ["customer_id", "assessed_at"],
    )
    op.create_table(
        "advisory_suitability_records",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("customer_id", sa.String(36), nullable=False),
        sa.Column("product_code", sa.String(32), nullable=False),
        sa.Column("product_level", sa.String(2), nullable=False),
        sa.Column("profile_id", sa.String(36), nullable=True),
        sa.Column("category", sa.String(2), nullable=True),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("allowed", sa.Boolean(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("warning_code", sa.String(32), nullable=True),
        sa.Column("warning_text", sa.Text(), nullable=True),
        sa.Column("confirmed", sa.Boolean(), nullable=False),
        sa.Column("second_factor", sa.Boolean(), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("actor_id", sa.String(64), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_advisory_suitability_records")),
    )
    op.create_index(
        "ix_advisory_suitability_customer_created",
        "advisory_suitability_records",
        ["customer_id", "created_at"],
    )
    op.create_table(
        "advisory_orders",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("customer_id", sa.String(36), nullable=False),
        sa.Column("account_id", sa.String(36), nullable=False),
        sa.Column("product_code", sa.String(32), nullable=False),
        sa.Column("side", sa.String(12), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("fee_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("units", sa.Numeric(24, 8), nullable=True),
        sa.Column("nav", sa.Numeric(24, 8), nullable=True),
        sa.Column("trade_date", sa.Date(), nullable=False),
        sa.Column("settle_date", sa.Date(), nullable=False),
        sa.Column("suitability_id", sa.String(36), nullable=True),
        sa.Column("idempotency_key", sa.String(300), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_advisory_orders_amount_positive")),
        sa.CheckConstraint("side IN ('subscribe','redeem')", name=op.f("ck_advisory_orders_side")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_advisory_orders")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_advisory_orders_idempotency_key")),
    )
    op.create_index(
        "ix_advisory_orders_customer_created", "advisory_orders", ["customer_id", "created_at"]
    )
    op.create_table(
        "advisory_holdings",
        sa.Column("customer_id", sa.String(36), nullable=False),
        sa.Column("product_code", sa.String(32), nullable=False),
        sa.Column("units", sa.Numeric(24, 8), nullable=False),
        sa.Column("cost_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.CheckConstraint("units >= 0", name=op.f("ck_advisory_holdings_units_non_negative")),
        sa.PrimaryKeyConstraint("customer_id", "product_code", name=op.f("pk_advisory_holdings")),
    )


def downgrade() -> None:
    op.drop_table("advisory_holdings")
    op.drop_index("ix_advisory_orders_customer_created", table_name="advisory_orders")
    op.drop_table("advisory_orders")
    op.drop_index(
        "ix_advisory_suitability_customer_created", table_name="advisory_suitability_records"
    )
    op.drop_table("advisory_suitability_records")
    op.drop_index("ix_advisory_profiles_customer_assessed", table_name="advisory_profiles")
    op.drop_table("advisory_profiles")

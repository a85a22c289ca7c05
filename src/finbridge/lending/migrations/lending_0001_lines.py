"""lending: products, policies, applications, lines, purchases, activity, statements,
accruals and the close-of-business journal

Revision ID: lending_0001
Revises:
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "lending_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("lending",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "lending_cob_days",
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("business_date", name=op.f("pk_lending_cob_days")),
    )
    op.create_table(
        "lending_policies",
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_lending_policies")),
    )
    op.create_table(
        "lending_products",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lending_products")),
        sa.UniqueConstraint("code", "version", name=op.f("uq_lending_products_code_version")),
    )
    op.create_table(
        "lending_applications",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("idempotency_key", sa.String(length=250), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("product_id", sa.String(length=64), nullable=False),
        sa.Column("policy_version", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("score_model", sa.String(length=120), nullable=True),
        sa.Column("score_reasons", sa.JSON(), nullable=False),
        sa.Column("risk_outcome", sa.String(length=16), nullable=True),
        sa.Column("risk_reasons", sa.JSON(), nullable=False),
        sa.Column("inputs", sa.JSON(), nullable=False),
        sa.Column("limit_minor", sa.BigInteger(), nullable=True),
        sa.Column("line_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["lending_products.id"],
            name=op.f("fk_lending_applications_product_id_lending_products"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lending_applications")),
        sa.UniqueConstraint(
            "idempotency_key", name=op.f("uq_lending_applications_idempotency_key")
        ),
    )
    op.create_index(
        op.f("ix_lending_applications_customer_id"),
        "lending_applications",
        ["customer_id"],
        unique=False,
    )
    op.create_table(
        "lending_cob_steps",
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("step", sa.String(length=60), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["business_date"],
            ["lending_cob_days.business_date"],
            name=op.f("fk_lending_cob_steps_business_date_lending_cob_days"),
        ),
        sa.PrimaryKeyConstraint("business_date", "step", name=op.f("pk_lending_cob_steps")),
    )
    op.create_table(
        "lending_lines",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("product_id", sa.String(length=64), nullable=False),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("deposit_account_id", sa.String(length=36), nullable=False),
        sa.Column("limit_minor", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("opened_on", sa.Date(), nullable=False),
        sa.Column("next_statement_date", sa.Date(), nullable=False),
        sa.Column("purchase_rate_e6", sa.Integer(), nullable=False),
        sa.Column("cash_rate_e6", sa.Integer(), nullable=False),
        sa.Column("fees_minor", sa.BigInteger(), nullable=False),
        sa.Column("interest_minor", sa.BigInteger(), nullable=False),
        sa.Column("revolving_minor", sa.BigInteger(), nullable=False),
        sa.Column("cash_minor", sa.BigInteger(), nullable=False),
        sa.Column("purchases_minor", sa.BigInteger(), nullable=False),
        sa.Column("credit_minor", sa.BigInteger(), nullable=False),
        sa.Column("accrued_micro", sa.BigInteger(), nullable=False),
        sa.Column("dpd", sa.Integer(), nullable=False),
        sa.Column("bucket", sa.String(length=8), nullable=False),
        sa.Column("over_limit_minor", sa.BigInteger(), nullable=False),
        sa.Column("charged_off_minor", sa.BigInteger(), nullable=False),
        sa.Column("recovered_minor", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "fees_minor >= 0 AND interest_minor >= 0 AND revolving_minor >= 0 "
            "AND cash_minor >= 0 AND purchases_minor >= 0 AND credit_minor >= 0",
            name=op.f("ck_lending_lines_buckets_non_negative"),
        ),
        sa.CheckConstraint("limit_minor >= 0", name=op.f("ck_lending_lines_limit_non_negative")),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["lending_products.id"],
            name=op.f("fk_lending_lines_product_id_lending_products"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lending_lines")),
        sa.UniqueConstraint("account_id", name=op.f("uq_lending_lines_account_id")),
    )
    op.create_index(
        op.f("ix_lending_lines_customer_id"), "lending_lines", ["customer_id"], unique=False
    )
    op.create_index(
        op.f("ix_lending_lines_next_statement_date"),
        "lending_lines",
        ["next_statement_date"],
        unique=False,
    )
    op.create_table(
        "lending_accruals",
        sa.Column("line_id", sa.String(length=36), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("base_minor", sa.BigInteger(), nullable=False),
        sa.Column("micro", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["line_id"],
            ["lending_lines.id"],
            name=op.f("fk_lending_accruals_line_id_lending_lines"),
        ),
        sa.PrimaryKeyConstraint(
            "line_id", "business_date", "kind", name=op.f("pk_lending_accruals")
        ),
    )
    op.create_table(
        "lending_activity",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("line_id", sa.String(length=36), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("entry_id", sa.String(length=36), nullable=False),
        sa.Column("idempotency_key", sa.String(length=250), nullable=False),
        sa.Column("purchase_id", sa.String(length=36), nullable=True),
        sa.Column("cash_delta_minor", sa.BigInteger(), nullable=False),
        sa.Column("revolving_delta_minor", sa.BigInteger(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["line_id"],
            ["lending_lines.id"],
            name=op.f("fk_lending_activity_line_id_lending_lines"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lending_activity")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_lending_activity_idempotency_key")),
    )
    op.create_index(
        "ix_lending_activity_line_date",
        "lending_activity",
        ["line_id", "business_date"],
        unique=False,
    )
    op.create_table(
        "lending_purchases",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("line_id", sa.String(length=36), nullable=False),
        sa.Column("hold_id", sa.String(length=36), nullable=False),
        sa.Column("merchant", sa.String(length=120), nullable=False),
        sa.Column("authorised_minor", sa.BigInteger(), nullable=False),
        sa.Column("captured_minor", sa.BigInteger(), nullable=False),
        sa.Column("refunded_minor", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "captured_minor <= authorised_minor",
            name=op.f("ck_lending_purchases_capture_within_hold"),
        ),
        sa.CheckConstraint(
            "refunded_minor <= captured_minor",
            name=op.f("ck_lending_purchases_refund_within_capture"),
        ),
        sa.ForeignKeyConstraint(
            ["line_id"],
            ["lending_lines.id"],
            name=op.f("fk_lending_purchases_line_id_lending_lines"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lending_purchases")),
    )
    op.create_index(
        op.f("ix_lending_purchases_line_id"), "lending_purchases", ["line_id"], unique=False
    )
    op.create_table(
        "lending_statements",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("line_id", sa.String(length=36), nullable=False),
        sa.Column("statement_date", sa.Date(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("opening_minor", sa.BigInteger(), nullable=False),
        sa.Column("purchases_minor", sa.BigInteger(), nullable=False),
        sa.Column("refunds_minor", sa.BigInteger(), nullable=False),
        sa.Column("cash_minor", sa.BigInteger(), nullable=False),
        sa.Column("fees_minor", sa.BigInteger(), nullable=False),
        sa.Column("interest_minor", sa.BigInteger(), nullable=False),
        sa.Column("payments_minor", sa.BigInteger(), nullable=False),
        sa.Column("other_minor", sa.BigInteger(), nullable=False),
        sa.Column("closing_minor", sa.BigInteger(), nullable=False),
        sa.Column("minimum_due_minor", sa.BigInteger(), nullable=False),
        sa.Column("paid_minor", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["line_id"],
            ["lending_lines.id"],
            name=op.f("fk_lending_statements_line_id_lending_lines"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lending_statements")),
        sa.UniqueConstraint(
            "line_id", "statement_date", name=op.f("uq_lending_statements_line_id_statement_date")
        ),
    )
    op.create_index(
        op.f("ix_lending_statements_due_date"), "lending_statements", ["due_date"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_lending_statements_due_date"), table_name="lending_statements")
    op.drop_table("lending_statements")
    op.drop_index(op.f("ix_lending_purchases_line_id"), table_name="lending_purchases")
    op.drop_table("lending_purchases")
    op.drop_index("ix_lending_activity_line_date", table_name="lending_activity")
    op.drop_table("lending_activity")
    op.drop_table("lending_accruals")
    op.drop_index(op.f("ix_lending_lines_next_statement_date"), table_name="lending_lines")
    op.drop_index(op.f("ix_lending_lines_customer_id"), table_name="lending_lines")
    op.drop_table("lending_lines")
    op.drop_table("lending_cob_steps")
    op.drop_index(op.f("ix_lending_applications_customer_id"), table_name="lending_applications")
    op.drop_table("lending_applications")
    op.drop_table("lending_products")
    op.drop_table("lending_policies")
    op.drop_table("lending_cob_days")

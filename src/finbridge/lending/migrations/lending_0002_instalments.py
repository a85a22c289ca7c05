"""lending: instalment plans and periods, instalment buckets on lines, converted part of
statements

Revision ID: lending_0002
Revises: lending_0001
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "lending_0002"
down_revision: str | Sequence[str] | None = "lending_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("lending_lines") as batch:
        batch.add_column(
            sa.Column("instalment_due_minor", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch.add_column(
            sa.Column("instalment_minor", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch.create_check_constraint(
            op.f("ck_lending_lines_instalments_non_negative"),
            "instalment_due_minor >= 0 AND instalment_minor >= 0",
        )
    op.add_column(
        "lending_statements",
        sa.Column("converted_minor", sa.BigInteger(), server_default="0", nullable=False),
    )
    op.create_table(
        "lending_instalment_plans",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("line_id", sa.String(length=36), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("source_id", sa.String(length=36), nullable=False),
        sa.Column("periods", sa.Integer(), nullable=False),
        sa.Column("principal_minor", sa.BigInteger(), nullable=False),
        sa.Column("fee_per_period_minor", sa.BigInteger(), nullable=False),
        sa.Column("fee_mode", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_on", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "principal_minor > 0",
            name=op.f("ck_lending_instalment_plans_principal_positive"),
        ),
        sa.ForeignKeyConstraint(
            ["line_id"],
            ["lending_lines.id"],
            name=op.f("fk_lending_instalment_plans_line_id_lending_lines"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lending_instalment_plans")),
        sa.UniqueConstraint(
            "source", "source_id", name=op.f("uq_lending_instalment_plans_source_source_id")
        ),
    )
    op.create_index(
        op.f("ix_lending_instalment_plans_line_id"),
        "lending_instalment_plans",
        ["line_id"],
        unique=False,
    )
    op.create_table(
        "lending_instalment_periods",
        sa.Column("plan_id", sa.String(length=36), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("bill_date", sa.Date(), nullable=False),
        sa.Column("principal_minor", sa.BigInteger(), nullable=False),
        sa.Column("fee_minor", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["lending_instalment_plans.id"],
            name=op.f("fk_lending_instalment_periods_plan_id_lending_instalment_plans"),
        ),
        sa.PrimaryKeyConstraint("plan_id", "number", name=op.f("pk_lending_instalment_periods")),
    )
    op.create_index(
        op.f("ix_lending_instalment_periods_bill_date"),
        "lending_instalment_periods",
        ["bill_date"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_lending_instalment_periods_bill_date"), table_name="lending_instalment_periods"
    )
    op.drop_table("lending_instalment_periods")
    op.drop_index(
        op.f("ix_lending_instalment_plans_line_id"), table_name="lending_instalment_plans"
    )
    op.drop_table("lending_instalment_plans")
    op.drop_column("lending_statements", "converted_minor")
    with op.batch_alter_table("lending_lines") as batch:
        batch.drop_constraint(op.f("ck_lending_lines_instalments_non_negative"), type_="check")
        batch.drop_column("instalment_minor")
        batch.drop_column("instalment_due_minor")

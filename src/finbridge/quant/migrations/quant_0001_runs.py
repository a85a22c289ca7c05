"""quant: backtest runs

Revision ID: quant_0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "quant_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("quant",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "quant_runs",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("owner_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("tearsheet_html", sa.Text(), nullable=True),
        sa.Column("final_equity_minor", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quant_runs")),
    )
    op.create_index("ix_quant_runs_owner_created", "quant_runs", ["owner_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_quant_runs_owner_created", table_name="quant_runs")
    op.drop_table("quant_runs")

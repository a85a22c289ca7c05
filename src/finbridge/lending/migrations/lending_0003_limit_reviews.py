"""lending: periodic limit reviews

Revision ID: lending_0003
Revises: lending_0002
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "lending_0003"
down_revision: str | Sequence[str] | None = "lending_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "lending_limit_reviews",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("line_id", sa.String(length=36), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("old_limit_minor", sa.BigInteger(), nullable=False),
        sa.Column("new_limit_minor", sa.BigInteger(), nullable=False),
        sa.Column("used_minor", sa.BigInteger(), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("score_model", sa.String(length=120), nullable=True),
        sa.Column("policy_version", sa.Integer(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("inputs", sa.JSON(), nullable=False),
        sa.Column("audit_seq", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["line_id"],
            ["lending_lines.id"],
            name=op.f("fk_lending_limit_reviews_line_id_lending_lines"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lending_limit_reviews")),
        sa.UniqueConstraint(
            "line_id", "business_date", name=op.f("uq_lending_limit_reviews_line_id_business_date")
        ),
    )
    op.create_index(
        "ix_lending_limit_reviews_date", "lending_limit_reviews", ["business_date"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_lending_limit_reviews_date", table_name="lending_limit_reviews")
    op.drop_table("lending_limit_reviews")

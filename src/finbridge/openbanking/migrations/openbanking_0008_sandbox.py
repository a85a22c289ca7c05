"""openbanking: sandbox apps and the synthetic sandbox's accounts and postings

Revision ID: openbanking_0008
Revises: openbanking_0007
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "openbanking_0008"
down_revision: str | Sequence[str] | None = "openbanking_0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("openbanking_apps") as batch:
        batch.add_column(
            sa.Column("sandbox", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_table(
        "openbanking_sandbox_accounts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("balance_minor", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_openbanking_sandbox_accounts")),
    )
    op.create_index(
        "ix_openbanking_sandbox_accounts_customer", "openbanking_sandbox_accounts", ["customer_id"]
    )
    op.create_table(
        "openbanking_sandbox_postings",
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("booked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("balance_after_minor", sa.BigInteger(), nullable=False),
        sa.Column("description", sa.String(length=140), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "seq", name=op.f("pk_openbanking_sandbox_postings")),
    )
    op.create_index(
        "ix_openbanking_sandbox_postings_account",
        "openbanking_sandbox_postings",
        ["account_id", "booked_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_openbanking_sandbox_postings_account", "openbanking_sandbox_postings")
    op.drop_table("openbanking_sandbox_postings")
    op.drop_index("ix_openbanking_sandbox_accounts_customer", "openbanking_sandbox_accounts")
    op.drop_table("openbanking_sandbox_accounts")
    with op.batch_alter_table("openbanking_apps") as batch:
        batch.drop_column("sandbox")

"""identity: the customer inbox

Revision ID: identity_0004
Revises: identity_0003
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "identity_0004"
down_revision: str | Sequence[str] | None = "identity_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "identity_inbox_messages",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("link", sa.String(length=400), nullable=True),
        sa.Column("ref", sa.String(length=120), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_inbox_messages")),
        sa.UniqueConstraint(
            "customer_id",
            "kind",
            "ref",
            name=op.f("uq_identity_inbox_messages_customer_id_kind_ref"),
        ),
    )
    op.create_index(
        "ix_identity_inbox_messages_customer_created",
        "identity_inbox_messages",
        ["customer_id", "created_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        "ix_identity_inbox_messages_customer_created", table_name="identity_inbox_messages"
    )
    op.drop_table("identity_inbox_messages")

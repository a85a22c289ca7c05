"""identity: customers' correction and deletion requests

Revision ID: identity_0005
Revises: identity_0004
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "identity_0005"
down_revision: str | Sequence[str] | None = "identity_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "identity_privacy_requests",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column("handled_by", sa.String(length=80), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_privacy_requests")),
    )
    op.create_index(
        op.f("ix_identity_privacy_requests_customer_id"),
        "identity_privacy_requests",
        ["customer_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_identity_privacy_requests_status"),
        "identity_privacy_requests",
        ["status"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_identity_privacy_requests_status"), table_name="identity_privacy_requests"
    )
    op.drop_index(
        op.f("ix_identity_privacy_requests_customer_id"), table_name="identity_privacy_requests"
    )
    op.drop_table("identity_privacy_requests")

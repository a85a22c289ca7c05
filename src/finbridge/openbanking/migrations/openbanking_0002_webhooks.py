"""openbanking: webhook endpoints and secrets on apps, the delivery log

Revision ID: openbanking_0002
Revises: openbanking_0001
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "openbanking_0002"
down_revision: str | Sequence[str] | None = "openbanking_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("openbanking_apps") as batch:
        batch.add_column(sa.Column("webhook_url", sa.String(length=500), nullable=True))
        batch.add_column(sa.Column("webhook_secrets", sa.JSON(), nullable=True))
    op.create_table(
        "openbanking_webhook_deliveries",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("client_id", sa.String(length=36), nullable=False),
        sa.Column("event_type", sa.String(length=60), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.BigInteger(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_status", sa.BigInteger(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_openbanking_webhook_deliveries")),
    )
    op.create_index(
        "ix_openbanking_webhook_deliveries_due",
        "openbanking_webhook_deliveries",
        ["status", "next_attempt_at"],
    )
    op.create_index(
        "ix_openbanking_webhook_deliveries_client",
        "openbanking_webhook_deliveries",
        ["client_id", "created_at"],
    )


def downgrade() -> None:
    op.drop_index(
        "ix_openbanking_webhook_deliveries_client", table_name="openbanking_webhook_deliveries"
    )
    op.drop_index(
        "ix_openbanking_webhook_deliveries_due", table_name="openbanking_webhook_deliveries"
    )
    op.drop_table("openbanking_webhook_deliveries")
    with op.batch_alter_table("openbanking_apps") as batch:
        batch.drop_column("webhook_secrets")
        batch.drop_column("webhook_url")

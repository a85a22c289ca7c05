"""openbanking: a claim on each webhook delivery (which server sends it, until when); delivery
ids widened to 64 (``msg_`` + a 36-character id did not fit PostgreSQL's 36)

Revision ID: openbanking_0006
Revises: openbanking_0005
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "openbanking_0006"
down_revision: str | Sequence[str] | None = "openbanking_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("openbanking_webhook_deliveries") as batch:
        batch.alter_column(
            "id", existing_type=sa.String(length=36), type_=sa.String(length=64), nullable=False
        )
        batch.add_column(sa.Column("claimed_by", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("openbanking_webhook_deliveries") as batch:
        batch.drop_column("lease_until")
        batch.drop_column("claimed_by")
        batch.alter_column(
            "id", existing_type=sa.String(length=64), type_=sa.String(length=36), nullable=False
        )

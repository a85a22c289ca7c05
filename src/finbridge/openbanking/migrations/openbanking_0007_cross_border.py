"""openbanking: cross-border payment consents (the beneficiary) and payments (the transfer)

Revision ID: openbanking_0007
Revises: openbanking_0006
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "openbanking_0007"
down_revision: str | Sequence[str] | None = "openbanking_0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("openbanking_consents") as batch:
        batch.add_column(sa.Column("beneficiary", sa.JSON(), nullable=True))
    with op.batch_alter_table("openbanking_payments") as batch:
        batch.add_column(sa.Column("transfer_id", sa.String(length=36), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("openbanking_payments") as batch:
        batch.drop_column("transfer_id")
    with op.batch_alter_table("openbanking_consents") as batch:
        batch.drop_column("beneficiary")

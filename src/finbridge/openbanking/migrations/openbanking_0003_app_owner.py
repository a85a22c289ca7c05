"""openbanking: who registered each app (developers manage their own apps' webhooks)

Revision ID: openbanking_0003
Revises: openbanking_0002
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "openbanking_0003"
down_revision: str | Sequence[str] | None = "openbanking_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("openbanking_apps") as batch:
        batch.add_column(sa.Column("owner_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("openbanking_apps") as batch:
        batch.drop_column("owner_id")

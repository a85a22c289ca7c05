"""openbanking: each app's login initiation URI (the app store's one-click connect)

Revision ID: openbanking_0004
Revises: openbanking_0003
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "openbanking_0004"
down_revision: str | Sequence[str] | None = "openbanking_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("openbanking_apps") as batch:
        batch.add_column(sa.Column("initiate_login_uri", sa.String(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("openbanking_apps") as batch:
        batch.drop_column("initiate_login_uri")

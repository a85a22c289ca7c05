"""acquisition: spending RFM kept in the profile rows (as of the refresh that computed it)

Revision ID: acquisition_0003
Revises: acquisition_0002
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "acquisition_0003"
down_revision: str | Sequence[str] | None = "acquisition_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("acquisition_profiles") as batch:
        batch.add_column(sa.Column("spending", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("spending_as_of", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("acquisition_profiles") as batch:
        batch.drop_column("spending_as_of")
        batch.drop_column("spending")

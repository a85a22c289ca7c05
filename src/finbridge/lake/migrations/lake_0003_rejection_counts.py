"""lake: ingestion reports keep the first rejections in full and counts by field for the rest

Revision ID: lake_0003
Revises: lake_0002
Create Date: 2026-12-06

A file of three million bad rows stored a 95 MB report in one row. The report now keeps the
first ``MAX_REPORTED_REJECTIONS`` rows in full and ``rejection_counts`` (field -> rows) for all.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "lake_0003"
down_revision: str | Sequence[str] | None = "lake_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("lake_ingestions") as batch:
        batch.add_column(sa.Column("rejection_counts", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("lake_ingestions") as batch:
        batch.drop_column("rejection_counts")

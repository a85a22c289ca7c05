"""acquisition: customers' contact preferences (their time zone)

Revision ID: acquisition_0002
Revises: acquisition_0001
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "acquisition_0002"
down_revision: str | Sequence[str] | None = "acquisition_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "acquisition_preferences",
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_acquisition_preferences")),
    )


def downgrade() -> None:
    op.drop_table("acquisition_preferences")

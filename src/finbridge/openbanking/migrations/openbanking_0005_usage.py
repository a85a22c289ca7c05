"""openbanking: per-app usage counters (calls per app, day, resource and outcome)

Revision ID: openbanking_0005
Revises: openbanking_0004
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "openbanking_0005"
down_revision: str | Sequence[str] | None = "openbanking_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "openbanking_usage",
        sa.Column("client_id", sa.String(length=36), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("resource", sa.String(length=40), nullable=False),
        sa.Column("outcome", sa.String(length=80), nullable=False),
        sa.Column("calls", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "client_id", "day", "resource", "outcome", name=op.f("pk_openbanking_usage")
        ),
    )


def downgrade() -> None:
    op.drop_table("openbanking_usage")

"""openbanking: apps publish keys at a JWKS URI; app logos (re-encoded images)

Revision ID: openbanking_0010
Revises: openbanking_0009
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "openbanking_0010"
down_revision: str | Sequence[str] | None = "openbanking_0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("openbanking_apps") as batch:
        batch.add_column(sa.Column("jwks_uri", sa.String(length=500), nullable=True))
        batch.add_column(sa.Column("logo_sha256", sa.String(length=64), nullable=True))
    op.create_table(
        "openbanking_app_logos",
        sa.Column("client_id", sa.String(length=36), nullable=False),
        sa.Column("media_type", sa.String(length=16), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("client_id", name=op.f("pk_openbanking_app_logos")),
    )


def downgrade() -> None:
    op.drop_table("openbanking_app_logos")
    with op.batch_alter_table("openbanking_apps") as batch:
        batch.drop_column("logo_sha256")
        batch.drop_column("jwks_uri")

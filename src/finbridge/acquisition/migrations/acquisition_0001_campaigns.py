"""acquisition: profiles, creatives, campaigns, opt-outs, deliveries

Revision ID: acquisition_0001
Revises:
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "acquisition_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("acquisition",)
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "acquisition_profiles",
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("as_of", _TS, nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("locale", sa.String(8), nullable=False),
        sa.Column("engagement", sa.LargeBinary(), nullable=False),
        sa.Column("first_minute", sa.LargeBinary(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("topics", sa.JSON(), nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_acquisition_profiles")),
    )
    op.create_table(
        "acquisition_creatives",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("templates", sa.JSON(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_acquisition_creatives")),
        sa.UniqueConstraint("name", "version", name=op.f("uq_acquisition_creatives_name_version")),
    )
    op.create_table(
        "acquisition_campaigns",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("audience", sa.Text(), nullable=False),
        sa.Column("offer_code", sa.String(40), nullable=True),
        sa.Column("creative_name", sa.String(80), nullable=False),
        sa.Column("creative_version", sa.Integer(), nullable=False),
        sa.Column("schedule", sa.JSON(), nullable=False),
        sa.Column("quiet_start", sa.String(5), nullable=False),
        sa.Column("quiet_end", sa.String(5), nullable=False),
        sa.Column("cap_per_day", sa.Integer(), nullable=False),
        sa.Column("cap_per_week", sa.Integer(), nullable=False),
        sa.Column("holdout_share", sa.Float(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_acquisition_campaigns")),
        sa.UniqueConstraint("name", name=op.f("uq_acquisition_campaigns_name")),
    )
    op.create_table(
        "acquisition_opt_outs",
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("campaign_id", sa.String(36), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("customer_id", "campaign_id", name=op.f("pk_acquisition_opt_outs")),
    )
    op.create_table(
        "acquisition_deliveries",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("campaign_id", sa.String(36), nullable=False),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("arm", sa.String(10), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("reason", sa.String(200), nullable=True),
        sa.Column("scheduled_at", _TS, nullable=False),
        sa.Column("delivered_at", _TS, nullable=True),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("opened_at", _TS, nullable=True),
        sa.Column("converted_at", _TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_acquisition_deliveries")),
        sa.UniqueConstraint(
            "campaign_id",
            "customer_id",
            "day",
            name=op.f("uq_acquisition_deliveries_campaign_id_customer_id_day"),
        ),
    )
    op.create_index(
        "ix_acquisition_deliveries_due", "acquisition_deliveries", ["status", "scheduled_at"]
    )
    op.create_index(
        "ix_acquisition_deliveries_customer",
        "acquisition_deliveries",
        ["customer_id", "scheduled_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_acquisition_deliveries_customer", table_name="acquisition_deliveries")
    op.drop_index("ix_acquisition_deliveries_due", table_name="acquisition_deliveries")
    for table in (
        "acquisition_deliveries",
        "acquisition_opt_outs",
        "acquisition_campaigns",
        "acquisition_creatives",
        "acquisition_profiles",
    ):
        op.drop_table(table)

"""lake: the event stream's refusals on the outbox and its consumers' applied-event ledger

Revision ID: lake_0004_stream
Revises: lake_0003
Create Date: 2026-12-06

``lake_outbox.refused_reason`` flags a row the relay will not publish (unknown event type or
version) without dropping it; ``lake_stream_applied`` records, per durable consumer, the events
whose effect is stored, so a redelivered message changes nothing twice.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "lake_0004_stream"
down_revision: str | Sequence[str] | None = "lake_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("lake_outbox") as batch:
        batch.add_column(sa.Column("refused_reason", sa.String(512), nullable=True))
    op.create_table(
        "lake_stream_applied",
        sa.Column("consumer", sa.String(64), primary_key=True),
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("lake_stream_applied")
    with op.batch_alter_table("lake_outbox") as batch:
        batch.drop_column("refused_reason")

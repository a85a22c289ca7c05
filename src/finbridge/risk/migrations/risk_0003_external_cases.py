"""risk: cases opened by other engines (a payments screening hit), not by a decision

``origin`` names who opened the case (``decision`` for the engine's own review decisions,
``payments.screening`` for a sanctions hit), ``subject_id`` what it is about in that engine
(a transfer id) and ``summary`` why, in words; such a case has no decision, so ``decision_id``
and ``event_id`` may be empty.

Revision ID: risk_0003
Revises: risk_0002
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "risk_0003"
down_revision: str | Sequence[str] | None = "risk_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # SQLite changes a column's nullability only by rebuilding the table: batch mode does that.
    with op.batch_alter_table("risk_cases") as batch:
        batch.add_column(
            sa.Column("origin", sa.String(32), nullable=False, server_default="decision")
        )
        batch.add_column(sa.Column("subject_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("summary", sa.String(300), nullable=True))
        batch.alter_column("decision_id", existing_type=sa.String(36), nullable=True)
        batch.alter_column("event_id", existing_type=sa.String(64), nullable=True)
        batch.create_index("ix_risk_cases_subject", ["origin", "subject_id"])


def downgrade() -> None:
    with op.batch_alter_table("risk_cases") as batch:
        batch.drop_index("ix_risk_cases_subject")
        batch.drop_column("summary")
        batch.drop_column("subject_id")
        batch.drop_column("origin")

"""lending: activity indexed by business date and kind

Revision ID: lending_0004
Revises: lending_0003
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "lending_0004"
down_revision: str | Sequence[str] | None = "lending_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The close of business asks for one day's rows of one kind (the interest already booked
    # today, a resumed statement step) across every line: without this, a scan of all activity.
    op.create_index("ix_lending_activity_date_kind", "lending_activity", ["business_date", "kind"])


def downgrade() -> None:
    op.drop_index("ix_lending_activity_date_kind", table_name="lending_activity")

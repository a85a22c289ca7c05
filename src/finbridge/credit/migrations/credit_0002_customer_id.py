"""credit: score records name the customer ``customer_id`` (one name per idea)

Revision ID: credit_0002
Revises: credit_0001
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "credit_0002"
down_revision: str | Sequence[str] | None = "credit_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # batch mode: SQLite rebuilds the table, PostgreSQL renames in place.
    op.drop_index("ix_credit_scores_subject", table_name="credit_scores")
    with op.batch_alter_table("credit_scores") as batch:
        batch.alter_column("subject_id", new_column_name="customer_id")
    op.create_index("ix_credit_scores_customer", "credit_scores", ["customer_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_credit_scores_customer", table_name="credit_scores")
    with op.batch_alter_table("credit_scores") as batch:
        batch.alter_column("customer_id", new_column_name="subject_id")
    op.create_index("ix_credit_scores_subject", "credit_scores", ["subject_id", "created_at"])

"""banking: on PostgreSQL a posting is keyed by (account_id, id), one b-tree fewer per posting

Revision ID: banking_0007
Revises: banking_0006
Create Date: 2026-12-07

Every leg of every movement inserts into each of the postings' b-trees (issue 10's ledger
ratio; docs/decisions.md, Banking). On PostgreSQL the table had a primary key on ``id`` and an
index on ``(account_id, id)`` for an account's history; the key becomes ``(account_id, id)``
and serves that history, and the separate index goes. ``id`` still comes from the table's
sequence only (no path writes it), so it stays unique; nothing looks a posting up by ``id``
alone (an account's history pages by ``id`` within the account).

SQLite is unchanged: there ``id`` is the rowid, the table's own b-tree, which costs no index.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "banking_0007"
down_revision: str | Sequence[str] | None = "banking_0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_constraint("pk_banking_postings", "banking_postings", type_="primary")
    op.drop_index("ix_banking_postings_account", table_name="banking_postings")
    op.create_primary_key("pk_banking_postings", "banking_postings", ["account_id", "id"])


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_constraint("pk_banking_postings", "banking_postings", type_="primary")
    op.create_primary_key("pk_banking_postings", "banking_postings", ["id"])
    op.create_index("ix_banking_postings_account", "banking_postings", ["account_id", "id"])

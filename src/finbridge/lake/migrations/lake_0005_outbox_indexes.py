"""lake: the outbox keeps two b-trees, not three (no unique event id; unpublished rows only)

Revision ID: lake_0005
Revises: lake_0004_stream
Create Date: 2026-12-07

Every posting writes one outbox row, and each of the outbox's b-trees is one more index
insertion in the posting's transaction (issue 10's ledger ratio; docs/decisions.md, Lake):

* ``uq_lake_outbox_event_id`` is dropped. No query looks an outbox row up by its event id (the
  relay reads by ``published_at IS NULL`` in ``seq`` order, the purge by ``published_at``), and
  every id is a fresh UUIDv7 (``Event``'s default); downstream, the lake's ``events`` view and
  the stream consumers' ``lake_stream_applied`` already keep one effect per event id, as they
  must for a relay that retries a batch.
* ``ix_lake_outbox_unpublished`` becomes ``(seq) WHERE published_at IS NULL``: what the relay
  asks for, in its order, holding only the rows still to publish; publishing a row no longer
  inserts it into this index again under its new ``published_at``. The daily purge of old
  published rows reads the table instead.

On SQLite the unique constraint is part of the table's definition, so the table is rebuilt
(every row copied, ``seq`` kept); on PostgreSQL the constraint and the index are dropped.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "lake_0005"
down_revision: str | Sequence[str] | None = "lake_0004_stream"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UNPUBLISHED = sa.text("published_at IS NULL")


def upgrade() -> None:
    op.drop_index("ix_lake_outbox_unpublished", table_name="lake_outbox")
    with op.batch_alter_table("lake_outbox") as batch:
        batch.drop_constraint("uq_lake_outbox_event_id", type_="unique")
    op.create_index(
        "ix_lake_outbox_unpublished",
        "lake_outbox",
        ["seq"],
        postgresql_where=_UNPUBLISHED,
        sqlite_where=_UNPUBLISHED,
    )


def downgrade() -> None:
    op.drop_index("ix_lake_outbox_unpublished", table_name="lake_outbox")
    with op.batch_alter_table("lake_outbox") as batch:
        batch.create_unique_constraint("uq_lake_outbox_event_id", ["event_id"])
    op.create_index("ix_lake_outbox_unpublished", "lake_outbox", ["published_at", "seq"])

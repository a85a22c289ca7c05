"""openbanking: a sandbox per developer (its own synthetic accounts, reset on request)

The one shared sandbox of before becomes the sandbox of the developer whose sandbox app was
registered first, its ids unchanged (``sbx_customer_*``), so that developer's consents keep
reading it; every other developer is seeded a sandbox of its own on first use. With no sandbox
app at all the rows are kept, owned by no one (no grant can reach them).

Revision ID: openbanking_0011
Revises: openbanking_0010
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import sqlalchemy as sa
from alembic import op

revision: str = "openbanking_0011"
down_revision: str | Sequence[str] | None = "openbanking_0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEGACY_ID = "legacy"
LEGACY_PREFIX = "sbx_customer_"  # the shared sandbox's ids: sbx_customer_ada, sbx_customer_ada_1
_DAYS = 90  # its accounts were opened this many days before it was seeded


def upgrade() -> None:
    op.create_table(
        "openbanking_sandboxes",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("owner_id", sa.String(length=64), nullable=True),
        sa.Column("prefix", sa.String(length=24), nullable=False),
        sa.Column("seeded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_openbanking_sandboxes")),
        sa.UniqueConstraint("owner_id", name=op.f("uq_openbanking_sandboxes_owner_id")),
        sa.UniqueConstraint("prefix", name=op.f("uq_openbanking_sandboxes_prefix")),
    )
    with op.batch_alter_table("openbanking_sandbox_accounts") as batch:
        batch.add_column(sa.Column("sandbox_id", sa.String(length=36), nullable=True))
    bind = op.get_bind()
    accounts = sa.table(
        "openbanking_sandbox_accounts", sa.column("created_at", sa.DateTime(timezone=True))
    )
    opened = bind.execute(sa.select(sa.func.min(accounts.c.created_at))).scalar()
    if opened is not None:
        owner = bind.execute(
            sa.text(
                "SELECT owner_id FROM openbanking_apps WHERE sandbox AND owner_id IS NOT NULL"
                " ORDER BY created_at, id LIMIT 1"
            )
        ).scalar()
        sandboxes = sa.table(
            "openbanking_sandboxes",
            sa.column("id", sa.String()),
            sa.column("owner_id", sa.String()),
            sa.column("prefix", sa.String()),
            sa.column("seeded_at", sa.DateTime(timezone=True)),
        )
        bind.execute(
            sandboxes.insert().values(
                id=LEGACY_ID,
                owner_id=owner,
                prefix=LEGACY_PREFIX,
                seeded_at=opened + timedelta(days=_DAYS),
            )
        )
        bind.execute(
            sa.text("UPDATE openbanking_sandbox_accounts SET sandbox_id = :id"), {"id": LEGACY_ID}
        )
    with op.batch_alter_table("openbanking_sandbox_accounts") as batch:
        batch.alter_column("sandbox_id", existing_type=sa.String(length=36), nullable=False)
        batch.create_index("ix_openbanking_sandbox_accounts_sandbox", ["sandbox_id"])


def downgrade() -> None:
    # Back to one shared sandbox: only the rows that were the shared one's are kept.
    bind = op.get_bind()
    bind.execute(
        sa.text(
            "DELETE FROM openbanking_sandbox_postings WHERE account_id IN (SELECT id FROM"
            " openbanking_sandbox_accounts WHERE sandbox_id <> :id)"
        ),
        {"id": LEGACY_ID},
    )
    bind.execute(
        sa.text("DELETE FROM openbanking_sandbox_accounts WHERE sandbox_id <> :id"),
        {"id": LEGACY_ID},
    )
    with op.batch_alter_table("openbanking_sandbox_accounts") as batch:
        batch.drop_index("ix_openbanking_sandbox_accounts_sandbox")
        batch.drop_column("sandbox_id")
    op.drop_table("openbanking_sandboxes")

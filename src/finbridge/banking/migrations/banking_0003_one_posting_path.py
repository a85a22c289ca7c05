"""banking: one posting path on PostgreSQL (drop banking_post_pair, add banking_refuse)

Revision ID: banking_0003
Revises: banking_0002
Create Date: 2026-12-06

Two-leg movements on PostgreSQL no longer call the ``banking_post_pair`` function (a second
copy of the debit rule and of the ``transaction.posted`` payload, in PL/pgSQL). They run the
statement generated from the one rule in ``finbridge.banking.ledger`` as one autocommit
statement, which needs only a way to abort itself: ``banking_refuse`` raises with the given
SQLSTATE (``FBLEG``: a leg was refused while another moved; ``FBDUP``: the idempotency key is
taken) so nothing half-done commits. It knows nothing of the rule, so it never changes with it.
``VOLATILE`` keeps the planner from evaluating it ahead of the CASE that guards it.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "banking_0003"
down_revision: str | Sequence[str] | None = "banking_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_REFUSE = """
CREATE FUNCTION banking_refuse(p_state varchar, p_detail varchar) RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = p_state, MESSAGE = 'posting refused: ' || p_detail;
END $$
"""
_DROP_REFUSE = "DROP FUNCTION IF EXISTS banking_refuse(varchar, varchar)"
_DROP_PAIR = (
    "DROP FUNCTION IF EXISTS banking_post_pair(varchar, varchar, varchar, varchar, json, varchar,"
    " json, varchar, timestamptz, varchar, varchar, varchar, bigint, varchar, boolean, varchar,"
    " timestamptz, varchar, varchar, varchar)"
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_DROP_PAIR)
        op.execute(_REFUSE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        from finbridge.banking.migrations.banking_0002_post_pair import _FUNCTION

        op.execute(_DROP_REFUSE)
        op.execute(_FUNCTION)

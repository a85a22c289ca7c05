"""banking: one-round-trip posting function for two-leg movements (PostgreSQL only)

Revision ID: banking_0002
Revises: banking_0001
Create Date: 2026-11-25

``banking_post_pair`` does a whole transfer / deposit / withdrawal in one call, which the service
runs as a single autocommit statement (its own transaction, one network round trip): both guarded
balance UPDATEs in account-id order (the order the multi-leg CTE locks in, so the two paths cannot
deadlock each other), the refusal of the bank's own accounts when asked, the two postings, the
sealing entry with ``ON CONFLICT (idempotency_key) DO NOTHING`` and the ``transaction.posted``
outbox row. Any refusal raises, which rolls the whole statement back:

* ``FBLEG`` - a guarded UPDATE matched no row; the message is the account id (the service reads
  the account to say why, exactly as for the CTE path);
* ``FBINT`` - the bank's own account in a customer-facing transfer; detail is the field name;
* ``FBDUP`` - the idempotency key is already used (a retry or a racing duplicate).

The ledger triggers of banking_0001 are untouched and still run for these rows, so the database
refuses broken entries whichever path wrote them. SQLite keeps the statement-per-step path.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "banking_0002"
down_revision: str | Sequence[str] | None = "banking_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = ("lake_0001",)

_FUNCTION = """
CREATE FUNCTION banking_post_pair(
    p_entry_id varchar, p_kind varchar, p_key varchar, p_fingerprint varchar, p_result json,
    p_description varchar, p_metadata json, p_actor varchar, p_created_at timestamptz,
    p_currency varchar, p_src varchar, p_dst varchar, p_amount bigint, p_owner varchar,
    p_customers_only boolean, p_event_id varchar, p_occurred_at timestamptz,
    p_amount_text varchar, p_channel varchar, p_merchant varchar
) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    src_customer varchar;
    dst_customer varchar;
    src_balance bigint;
    dst_balance bigint;
    src_first boolean := p_src < p_dst;
BEGIN
    -- Lock (and move) the lower account id first, as the CTE path's ORDER BY a.id ... FOR UPDATE.
    FOR step IN 1..2 LOOP
        IF (step = 1) = src_first THEN
            -- The debit: open, same currency, owned by p_owner if given, stays above its floor.
            UPDATE banking_accounts AS a
            SET balance_minor = a.balance_minor - p_amount
            WHERE a.id = p_src AND a.currency = p_currency AND a.status = 'open'
              AND (a.allow_negative OR a.balance_minor - a.held_minor - p_amount >= a.floor_minor)
              AND (p_owner IS NULL OR a.customer_id = p_owner)
            RETURNING a.balance_minor, a.customer_id INTO src_balance, src_customer;
            IF NOT FOUND THEN
                RAISE EXCEPTION USING ERRCODE = 'FBLEG', MESSAGE = p_src;
            END IF;
        ELSE
            -- The credit: frozen accounts still receive money; closed ones do not.
            UPDATE banking_accounts AS a
            SET balance_minor = a.balance_minor + p_amount
            WHERE a.id = p_dst AND a.currency = p_currency AND a.status <> 'closed'
            RETURNING a.balance_minor, a.customer_id INTO dst_balance, dst_customer;
            IF NOT FOUND THEN
                RAISE EXCEPTION USING ERRCODE = 'FBLEG', MESSAGE = p_dst;
            END IF;
        END IF;
    END LOOP;
    IF p_customers_only THEN
        IF src_customer IS NULL THEN
            RAISE EXCEPTION USING ERRCODE = 'FBINT', MESSAGE = p_src, DETAIL = 'from_account_id';
        END IF;
        IF dst_customer IS NULL THEN
            RAISE EXCEPTION USING ERRCODE = 'FBINT', MESSAGE = p_dst, DETAIL = 'to_account_id';
        END IF;
    END IF;
    IF src_first THEN
        INSERT INTO banking_postings
            (entry_id, account_id, currency, amount_minor, balance_after_minor)
        VALUES (p_entry_id, p_src, p_currency, -p_amount, src_balance),
               (p_entry_id, p_dst, p_currency, p_amount, dst_balance);
    ELSE
        INSERT INTO banking_postings
            (entry_id, account_id, currency, amount_minor, balance_after_minor)
        VALUES (p_entry_id, p_dst, p_currency, p_amount, dst_balance),
               (p_entry_id, p_src, p_currency, -p_amount, src_balance);
    END IF;
    INSERT INTO banking_journal_entries (id, kind, idempotency_key, request_fingerprint, result,
        description, metadata, actor_id, created_at)
    VALUES (p_entry_id, p_kind, p_key, p_fingerprint, p_result, p_description, p_metadata,
        p_actor, p_created_at)
    ON CONFLICT (idempotency_key) DO NOTHING;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'FBDUP', MESSAGE = p_key;
    END IF;
    -- The transaction.posted v1 payload, keys in the schema's field order.
    INSERT INTO lake_outbox (event_id, event_type, schema_version, occurred_at, subject_id,
        source, payload)
    VALUES (p_event_id, 'transaction.posted', 1, p_occurred_at,
        coalesce(src_customer, dst_customer), 'banking',
        json_build_object(
            'entry_id', p_entry_id, 'kind', p_kind, 'amount', p_amount_text,
            'currency', p_currency, 'from_account_id', p_src, 'to_account_id', p_dst,
            'from_customer_id', src_customer, 'to_customer_id', dst_customer,
            'description', p_description, 'channel', p_channel, 'merchant', p_merchant));
END $$
"""

_DROP = (
    "DROP FUNCTION IF EXISTS banking_post_pair(varchar, varchar, varchar, varchar, json, varchar,"
    " json, varchar, timestamptz, varchar, varchar, varchar, bigint, varchar, boolean, varchar,"
    " timestamptz, varchar, varchar, varchar)"
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_DROP)

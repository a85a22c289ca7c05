"""banking: customers, accounts, double-entry ledger, holds, interest accruals + ledger triggers

Revision ID: banking_0001
Revises:
Create Date: 2026-11-25

The triggers make the ledger's invariants hold even when the service layer is bypassed:

* postings and journal entries are append-only (UPDATE and DELETE refused);
* the entry row is the seal: it is inserted after its postings, and it is refused unless its
  postings exist and balance per currency (PostgreSQL: a deferred constraint trigger, checked at
  COMMIT; SQLite has no deferred triggers, so a BEFORE INSERT trigger checks at the insert);
* postings may not be added to a sealed entry (BEFORE INSERT trigger on postings);
* the deferred foreign key from postings to entries makes a transaction that leaves postings
  without their sealing entry fail at COMMIT.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "banking_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("banking",)
depends_on: str | Sequence[str] | None = None

# Frozen copy of the supported currencies at the time of this revision.
_CURRENCY_IN = "currency IN ('CNY', 'USD', 'HKD', 'EUR', 'GBP', 'JPY', 'SGD', 'TWD', 'KWD')"

_PG_TRIGGERS = [
    """
    CREATE FUNCTION banking_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'ledger rows are append-only: % on % refused', TG_OP, TG_TABLE_NAME
            USING ERRCODE = 'integrity_constraint_violation';
    END $$
    """,
    """
    CREATE TRIGGER banking_postings_append_only BEFORE UPDATE OR DELETE ON banking_postings
    FOR EACH ROW EXECUTE FUNCTION banking_refuse_change()
    """,
    """
    CREATE TRIGGER banking_entries_append_only BEFORE UPDATE OR DELETE
    ON banking_journal_entries FOR EACH ROW EXECUTE FUNCTION banking_refuse_change()
    """,
    """
    CREATE FUNCTION banking_entry_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        n_currencies bigint;
        n_unbalanced bigint;
    BEGIN
        SELECT count(*), count(*) FILTER (WHERE total <> 0) INTO n_currencies, n_unbalanced
        FROM (SELECT sum(amount_minor) AS total FROM banking_postings
              WHERE entry_id = NEW.id GROUP BY currency) AS per_currency;
        IF n_currencies = 0 THEN
            RAISE EXCEPTION 'journal entry % has no postings', NEW.id
                USING ERRCODE = 'check_violation';
        END IF;
        IF n_unbalanced > 0 THEN
            RAISE EXCEPTION 'journal entry % does not balance per currency', NEW.id
                USING ERRCODE = 'check_violation';
        END IF;
        RETURN NULL;
    END $$
    """,
    """
    CREATE CONSTRAINT TRIGGER banking_entries_balanced AFTER INSERT ON banking_journal_entries
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION banking_entry_balanced()
    """,
    """
    CREATE FUNCTION banking_entry_open() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF EXISTS (SELECT 1 FROM banking_journal_entries WHERE id = NEW.entry_id) THEN
            RAISE EXCEPTION 'journal entry % is sealed: postings cannot be added', NEW.entry_id
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN NEW;
    END $$
    """,
    """
    CREATE TRIGGER banking_postings_entry_open BEFORE INSERT ON banking_postings
    FOR EACH ROW EXECUTE FUNCTION banking_entry_open()
    """,
]

_PG_DROP = [
    "DROP TRIGGER IF EXISTS banking_postings_entry_open ON banking_postings",
    "DROP FUNCTION IF EXISTS banking_entry_open()",
    "DROP TRIGGER IF EXISTS banking_entries_balanced ON banking_journal_entries",
    "DROP FUNCTION IF EXISTS banking_entry_balanced()",
    "DROP TRIGGER IF EXISTS banking_entries_append_only ON banking_journal_entries",
    "DROP TRIGGER IF EXISTS banking_postings_append_only ON banking_postings",
    "DROP FUNCTION IF EXISTS banking_refuse_change()",
]

_SQLITE_TRIGGERS = [
    """
    CREATE TRIGGER banking_postings_no_update BEFORE UPDATE ON banking_postings
    BEGIN SELECT RAISE(ABORT, 'ledger rows are append-only: UPDATE on banking_postings'); END
    """,
    """
    CREATE TRIGGER banking_postings_no_delete BEFORE DELETE ON banking_postings
    BEGIN SELECT RAISE(ABORT, 'ledger rows are append-only: DELETE on banking_postings'); END
    """,
    """
    CREATE TRIGGER banking_entries_no_update BEFORE UPDATE ON banking_journal_entries
    BEGIN
        SELECT RAISE(ABORT, 'ledger rows are append-only: UPDATE on banking_journal_entries');
    END
    """,
    """
    CREATE TRIGGER banking_entries_no_delete BEFORE DELETE ON banking_journal_entries
    BEGIN
        SELECT RAISE(ABORT, 'ledger rows are append-only: DELETE on banking_journal_entries');
    END
    """,
    """
    CREATE TRIGGER banking_postings_entry_open BEFORE INSERT ON banking_postings
    WHEN EXISTS (SELECT 1 FROM banking_journal_entries WHERE id = NEW.entry_id)
    BEGIN SELECT RAISE(ABORT, 'journal entry is sealed: postings cannot be added'); END
    """,
    """
    CREATE TRIGGER banking_entries_balanced BEFORE INSERT ON banking_journal_entries
    WHEN NOT EXISTS (SELECT 1 FROM banking_postings WHERE entry_id = NEW.id)
      OR EXISTS (SELECT 1 FROM banking_postings WHERE entry_id = NEW.id
                 GROUP BY currency HAVING SUM(amount_minor) <> 0)
    BEGIN SELECT RAISE(ABORT, 'journal entry does not balance per currency'); END
    """,
]

_SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS banking_entries_balanced",
    "DROP TRIGGER IF EXISTS banking_postings_entry_open",
    "DROP TRIGGER IF EXISTS banking_entries_no_delete",
    "DROP TRIGGER IF EXISTS banking_entries_no_update",
    "DROP TRIGGER IF EXISTS banking_postings_no_delete",
    "DROP TRIGGER IF EXISTS banking_postings_no_update",
]


def upgrade() -> None:
    op.create_table(
        "banking_customers",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("external_ref", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_banking_customers")),
        sa.UniqueConstraint("external_ref", name=op.f("uq_banking_customers_external_ref")),
        sa.CheckConstraint(
            "kind IN ('personal', 'corporate')", name=op.f("ck_banking_customers_kind")
        ),
        sa.CheckConstraint(
            "status IN ('active', 'closed')", name=op.f("ck_banking_customers_status")
        ),
    )
    op.create_table(
        "banking_accounts",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("customer_id", sa.String(36), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("internal_code", sa.String(32), nullable=True),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("balance_minor", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("held_minor", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("floor_minor", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("allow_negative", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("interest_rate", sa.String(16), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_banking_accounts")),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["banking_customers.id"],
            name=op.f("fk_banking_accounts_customer_id_banking_customers"),
        ),
        sa.UniqueConstraint("id", "currency", name="uq_banking_accounts_id_currency"),
        sa.UniqueConstraint("internal_code", "currency", name="uq_banking_accounts_internal"),
        sa.CheckConstraint(
            "kind IN ('current', 'savings', 'internal')", name=op.f("ck_banking_accounts_kind")
        ),
        sa.CheckConstraint(
            "status IN ('open', 'frozen', 'closed')", name=op.f("ck_banking_accounts_status")
        ),
        sa.CheckConstraint(_CURRENCY_IN, name=op.f("ck_banking_accounts_currency")),
        sa.CheckConstraint("held_minor >= 0", name=op.f("ck_banking_accounts_held_nonneg")),
        sa.CheckConstraint("floor_minor <= 0", name=op.f("ck_banking_accounts_floor_nonpos")),
        sa.CheckConstraint(
            "allow_negative = false OR kind = 'internal'",
            name=op.f("ck_banking_accounts_negative_only_internal"),
        ),
        sa.CheckConstraint(
            "(kind = 'internal') = (customer_id IS NULL AND internal_code IS NOT NULL)",
            name=op.f("ck_banking_accounts_internal_shape"),
        ),
        sa.CheckConstraint(
            "allow_negative OR balance_minor - held_minor >= floor_minor",
            name=op.f("ck_banking_accounts_available_above_floor"),
        ),
    )
    op.create_index("ix_banking_accounts_customer", "banking_accounts", ["customer_id"])
    op.create_table(
        "banking_journal_entries",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("idempotency_key", sa.String(300), nullable=False),
        sa.Column("request_fingerprint", sa.String(64), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("description", sa.String(500), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=True),
        sa.Column("actor_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_banking_journal_entries")),
        sa.UniqueConstraint(
            "idempotency_key", name=op.f("uq_banking_journal_entries_idempotency_key")
        ),
    )
    op.create_table(
        "banking_postings",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
            autoincrement=True,
        ),
        sa.Column("entry_id", sa.String(36), nullable=False),
        sa.Column("account_id", sa.String(36), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("balance_after_minor", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_banking_postings")),
        sa.CheckConstraint("amount_minor <> 0", name=op.f("ck_banking_postings_nonzero")),
        sa.CheckConstraint(_CURRENCY_IN, name=op.f("ck_banking_postings_currency")),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["banking_journal_entries.id"],
            name="fk_banking_postings_entry_id_banking_journal_entries",
            deferrable=True,
            initially="DEFERRED",
        ),
        sa.ForeignKeyConstraint(
            ["account_id", "currency"],
            ["banking_accounts.id", "banking_accounts.currency"],
            name="fk_banking_postings_account_currency",
        ),
    )
    op.create_index("ix_banking_postings_account", "banking_postings", ["account_id", "id"])
    op.create_index("ix_banking_postings_entry", "banking_postings", ["entry_id"])
    op.create_table(
        "banking_holds",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("account_id", sa.String(36), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("idempotency_key", sa.String(300), nullable=False),
        sa.Column("request_fingerprint", sa.String(64), nullable=False),
        sa.Column("description", sa.String(500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("capture_entry_id", sa.String(36), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_banking_holds")),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["banking_accounts.id"],
            name=op.f("fk_banking_holds_account_id_banking_accounts"),
        ),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_banking_holds_idempotency_key")),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_banking_holds_positive")),
        sa.CheckConstraint(
            "status IN ('active', 'captured', 'released', 'expired')",
            name=op.f("ck_banking_holds_status"),
        ),
    )
    op.create_index("ix_banking_holds_active", "banking_holds", ["status", "expires_at"])
    op.create_index("ix_banking_holds_account", "banking_holds", ["account_id"])
    op.create_table(
        "banking_interest_accruals",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
            autoincrement=True,
        ),
        sa.Column("account_id", sa.String(36), nullable=False),
        sa.Column("accrual_date", sa.Date(), nullable=False),
        sa.Column("balance_minor", sa.BigInteger(), nullable=False),
        sa.Column("annual_rate", sa.String(16), nullable=False),
        sa.Column("amount_micro", sa.BigInteger(), nullable=False),
        sa.Column("capitalised_entry_id", sa.String(36), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_banking_interest_accruals")),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["banking_accounts.id"],
            name=op.f("fk_banking_interest_accruals_account_id_banking_accounts"),
        ),
        sa.UniqueConstraint("account_id", "accrual_date", name="uq_banking_accruals_day"),
        sa.CheckConstraint("amount_micro >= 0", name=op.f("ck_banking_interest_accruals_nonneg")),
    )
    statements = _SQLITE_TRIGGERS if op.get_bind().dialect.name == "sqlite" else _PG_TRIGGERS
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    drops = _SQLITE_DROP if op.get_bind().dialect.name == "sqlite" else _PG_DROP
    for statement in drops:
        op.execute(statement)
    op.drop_table("banking_interest_accruals")
    op.drop_index("ix_banking_holds_account", table_name="banking_holds")
    op.drop_index("ix_banking_holds_active", table_name="banking_holds")
    op.drop_table("banking_holds")
    op.drop_index("ix_banking_postings_entry", table_name="banking_postings")
    op.drop_index("ix_banking_postings_account", table_name="banking_postings")
    op.drop_table("banking_postings")
    op.drop_table("banking_journal_entries")
    op.drop_index("ix_banking_accounts_customer", table_name="banking_accounts")
    op.drop_table("banking_accounts")
    op.drop_table("banking_customers")

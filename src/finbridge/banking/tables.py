"""Banking tables: customers, accounts, the double-entry ledger, holds and interest accruals.

The invariants that must survive a bypassed service live here as constraints (and, in the
``banking_0001`` migration, as triggers): available balance never below the floor for customer
accounts, supported currency codes, postings in the account's own currency, non-zero postings.
Money is integer minor units (``*_minor``); interest accruals are integer micro-minor units so
daily amounts stay exact enough to sum without floats.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import cast

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from finbridge.core.money import MAX_AMOUNT_MINOR, MAX_BALANCE_MINOR
from finbridge.store.metadata import Base

# Currencies the ledger accepts; the CHECK constraints below are generated from this tuple and
# frozen into the migration (adding one is a migration, on purpose).
LEDGER_CURRENCIES = ("CNY", "USD", "HKD", "EUR", "GBP", "JPY", "SGD", "TWD", "KWD")
_CURRENCY_IN = "currency IN (" + ", ".join(f"'{c}'" for c in LEDGER_CURRENCIES) + ")"

# Posting ids: BIGINT identity on PostgreSQL, INTEGER PRIMARY KEY (the rowid) on SQLite.
PostingId = BigInteger().with_variant(Integer(), "sqlite")


class CustomerRow(Base):
    __tablename__ = "banking_customers"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    display_name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="active")
    # A caller's own reference (e.g. a demo data set's client id), unique so bulk seeding is
    # idempotent. PII such as national IDs lives in identity's vault, never here.
    external_ref: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("kind IN ('personal', 'corporate')", name="kind"),
        CheckConstraint("status IN ('active', 'closed')", name="status"),
    )


class AccountRow(Base):
    __tablename__ = "banking_accounts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    customer_id: Mapped[str | None] = mapped_column(ForeignKey("banking_customers.id"))
    kind: Mapped[str] = mapped_column(String(16))
    # Internal bank accounts (cash, funding, clearing, interest expense, card settlement) have a
    # code and no customer; only they may be flagged to go negative.
    internal_code: Mapped[str | None] = mapped_column(String(32))
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16), default="open")
    balance_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    held_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    floor_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    allow_negative: Mapped[bool] = mapped_column(Boolean, default=False)
    interest_rate: Mapped[str | None] = mapped_column(String(16))  # annual, decimal string
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    # The rules as SQLite holds them. On PostgreSQL banking_0008 keeps the same conditions as
    # column domains and a shape trigger (a table CHECK is re-parsed on every statement there);
    # only available_above_floor stays a CHECK.
    __table_args__ = (
        CheckConstraint(
            "kind IN ('current', 'savings', 'internal')",
            name="kind",
        ),
        CheckConstraint("status IN ('open', 'frozen', 'closed')", name="status"),
        CheckConstraint(_CURRENCY_IN, name="currency"),
        CheckConstraint("held_minor >= 0", name="held_nonneg"),
        CheckConstraint("floor_minor <= 0", name="floor_nonpos"),
        CheckConstraint(
            "allow_negative = false OR kind = 'internal'", name="negative_only_internal"
        ),
        CheckConstraint(
            "(kind = 'internal') = (customer_id IS NULL AND internal_code IS NOT NULL)",
            name="internal_shape",
        ),
        CheckConstraint(
            "allow_negative OR balance_minor - held_minor >= floor_minor",
            name="available_above_floor",
        ),
        # Money bounds (finbridge.core.money; banking_0004 adds them, as triggers on SQLite).
        CheckConstraint(
            f"balance_minor BETWEEN -{MAX_BALANCE_MINOR} AND {MAX_BALANCE_MINOR}",
            name="balance_bounds",
        ),
        CheckConstraint(f"held_minor <= {2 * MAX_BALANCE_MINOR}", name="held_bounds"),
        CheckConstraint(f"floor_minor >= -{MAX_BALANCE_MINOR}", name="floor_bounds"),
        UniqueConstraint("id", "currency", name="uq_banking_accounts_id_currency"),
        UniqueConstraint("internal_code", "currency", name="uq_banking_accounts_internal"),
        Index("ix_banking_accounts_customer", "customer_id"),
    )


class JournalEntryRow(Base):
    """One money movement. Written last in its transaction, after its postings, and never
    changed: the database checks at that moment (SQLite) or at commit (PostgreSQL) that the
    postings balance per currency."""

    __tablename__ = "banking_journal_entries"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    idempotency_key: Mapped[str] = mapped_column(String(300), unique=True)
    request_fingerprint: Mapped[str] = mapped_column(String(64))
    result: Mapped[dict] = mapped_column(JSON)  # type: ignore[type-arg]
    description: Mapped[str] = mapped_column(String(500), default="")
    metadata_: Mapped[dict | None] = mapped_column("metadata", JSON)  # type: ignore[type-arg]
    actor_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PostingRow(Base):
    """One leg of a journal entry; append-only (triggers refuse UPDATE and DELETE)."""

    __tablename__ = "banking_postings"

    id: Mapped[int] = mapped_column(PostingId, primary_key=True, autoincrement=True)
    entry_id: Mapped[str] = mapped_column(String(36))
    account_id: Mapped[str] = mapped_column(String(36))
    currency: Mapped[str] = mapped_column(String(3))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    balance_after_minor: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        CheckConstraint("amount_minor <> 0", name="nonzero"),
        CheckConstraint(_CURRENCY_IN, name="currency"),
        CheckConstraint(
            f"amount_minor BETWEEN -{MAX_AMOUNT_MINOR} AND {MAX_AMOUNT_MINOR}",
            name="amount_bounds",
        ),
        CheckConstraint(
            f"balance_after_minor BETWEEN -{MAX_BALANCE_MINOR} AND {MAX_BALANCE_MINOR}",
            name="balance_after_bounds",
        ),
        # The entry row is inserted after its postings, so this key is checked at commit.
        ForeignKeyConstraint(
            ["entry_id"],
            ["banking_journal_entries.id"],
            name="fk_banking_postings_entry_id_banking_journal_entries",
            deferrable=True,
            initially="DEFERRED",
        ),
        # A posting is in its account's currency: enforced by the composite key.
        ForeignKeyConstraint(
            ["account_id", "currency"],
            ["banking_accounts.id", "banking_accounts.currency"],
            name="fk_banking_postings_account_currency",
        ),
        # An account's history. On PostgreSQL the primary key is (account_id, id) instead of
        # this index plus a key on id (banking_0007); on SQLite id is the rowid.
        Index("ix_banking_postings_account", "account_id", "id"),
        Index("ix_banking_postings_entry", "entry_id"),
    )


class HoldRow(Base):
    __tablename__ = "banking_holds"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("banking_accounts.id"))
    currency: Mapped[str] = mapped_column(String(3))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))
    idempotency_key: Mapped[str] = mapped_column(String(300), unique=True)
    request_fingerprint: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    settled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    capture_entry_id: Mapped[str | None] = mapped_column(String(36))

    __table_args__ = (
        CheckConstraint("amount_minor > 0", name="positive"),
        CheckConstraint(f"amount_minor <= {MAX_AMOUNT_MINOR}", name="amount_bounds"),
        CheckConstraint("status IN ('active', 'captured', 'released', 'expired')", name="status"),
        Index("ix_banking_holds_active", "status", "expires_at"),
        Index("ix_banking_holds_account", "account_id"),
    )


class InterestAccrualRow(Base):
    """One day's interest on one savings account (ACT/365), in micro-minor units."""

    __tablename__ = "banking_interest_accruals"

    id: Mapped[int] = mapped_column(PostingId, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("banking_accounts.id"))
    accrual_date: Mapped[date] = mapped_column(Date)
    balance_minor: Mapped[int] = mapped_column(BigInteger)
    annual_rate: Mapped[str] = mapped_column(String(16))
    amount_micro: Mapped[int] = mapped_column(BigInteger)
    capitalised_entry_id: Mapped[str | None] = mapped_column(String(36))

    __table_args__ = (
        UniqueConstraint("account_id", "accrual_date", name="uq_banking_accruals_day"),
        CheckConstraint("amount_micro >= 0", name="nonneg"),
    )


class RefusalRow(Base):
    """A money-moving request's definitive refusal (insufficient funds, a risk decline, a
    bound), kept under its idempotency key so every retry gets the same answer; only
    transient failures (a step-up, a race, an outage) are not kept."""

    __tablename__ = "banking_refusals"

    idempotency_key: Mapped[str] = mapped_column(String(300), primary_key=True)
    request_fingerprint: Mapped[str] = mapped_column(String(64))
    code: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    detail: Mapped[str] = mapped_column(String(1000))
    field: Mapped[str | None] = mapped_column(String(64))
    extra: Mapped[dict] = mapped_column(JSON)  # type: ignore[type-arg]
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ApprovalRow(Base):
    """An operator's movement waiting for a second operator (dual control): it posts under
    the maker's own idempotency key once approved, so it posts at most once."""

    __tablename__ = "banking_approvals"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(300), unique=True)
    request_fingerprint: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    from_account_id: Mapped[str] = mapped_column(String(36))
    to_account_id: Mapped[str] = mapped_column(String(36))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    description: Mapped[str] = mapped_column(String(500), default="")
    channel: Mapped[str | None] = mapped_column(String(32))
    details: Mapped[dict] = mapped_column(JSON)  # type: ignore[type-arg]
    maker_id: Mapped[str] = mapped_column(String(80))
    reasons: Mapped[list] = mapped_column(JSON)  # type: ignore[type-arg]
    guard_version: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[str | None] = mapped_column(String(80))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    note: Mapped[str] = mapped_column(String(500), default="")
    entry_id: Mapped[str | None] = mapped_column(String(36))

    __table_args__ = (
        CheckConstraint("amount_minor > 0", name="positive"),
        CheckConstraint(
            "status IN ('pending', 'approved', 'declined', 'expired', 'failed')", name="status"
        ),
        Index("ix_banking_approvals_queue", "status", "created_at"),
    )


# Core handles for the hot paths (typed as Table for statement builders).
customers_table = cast(Table, CustomerRow.__table__)
accounts_table = cast(Table, AccountRow.__table__)
entries_table = cast(Table, JournalEntryRow.__table__)
postings_table = cast(Table, PostingRow.__table__)
holds_table = cast(Table, HoldRow.__table__)
accruals_table = cast(Table, InterestAccrualRow.__table__)
refusals_table = cast(Table, RefusalRow.__table__)
approvals_table = cast(Table, ApprovalRow.__table__)

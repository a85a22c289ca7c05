"""Frozen value objects the lending face returns."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from finbridge.core.money import Money
from finbridge.lending.buckets import OWED_PARTS
from finbridge.lending.tables import ApplicationRow, LineRow, PurchaseRow, StatementRow


def _utc(instant: datetime) -> datetime:
    # SQLite hands back naive datetimes; they were written in UTC.
    return instant if instant.tzinfo is not None else instant.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Application:
    id: str
    customer_id: str
    product_id: str
    policy_version: int
    outcome: str
    reasons: tuple[str, ...]
    score: float | None
    score_model: str | None
    score_reasons: tuple[Any, ...]
    risk_outcome: str | None
    limit: Money | None
    line_id: str | None
    created_at: datetime
    inputs: dict[str, Any]

    @classmethod
    def of(cls, row: ApplicationRow, currency: str) -> Application:
        limit = None if row.limit_minor is None else Money.from_minor(row.limit_minor, currency)
        return cls(
            row.id, row.customer_id, row.product_id, row.policy_version, row.outcome,
            tuple(row.reasons), row.score, row.score_model, tuple(row.score_reasons),
            row.risk_outcome, limit, row.line_id, _utc(row.created_at), dict(row.inputs),
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Line:
    id: str
    customer_id: str
    product_id: str
    currency: str
    account_id: str
    deposit_account_id: str
    limit: Money
    status: str
    opened_on: date
    next_statement_date: date
    owed: Money
    credit_balance: Money
    buckets: dict[str, Money]
    accrued_interest_minor: Decimal  # not yet billed, in minor units with fractions
    dpd: int
    bucket: str
    over_limit: Money
    charged_off: Money
    recovered: Money
    terms: dict[str, Any]

    @classmethod
    def of(cls, row: LineRow) -> Line:
        cur = row.currency

        def m(minor: int) -> Money:
            return Money.from_minor(minor, cur)

        parts = OWED_PARTS
        buckets = {p: m(getattr(row, f"{p}_minor")) for p in parts}
        owed = sum((getattr(row, f"{p}_minor") for p in parts), 0)
        return cls(
            row.id, row.customer_id, row.product_id, cur, row.account_id,
            row.deposit_account_id, m(row.limit_minor), row.status, row.opened_on,
            row.next_statement_date, m(owed), m(row.credit_minor), buckets,
            Decimal(row.accrued_micro) / 10**6, row.dpd, row.bucket, m(row.over_limit_minor),
            m(row.charged_off_minor), m(row.recovered_minor), dict(row.terms),
        )  # fmt: skip

    @property
    def utilisation(self) -> float:
        if self.limit.minor == 0:
            return 0.0
        return self.owed.minor / self.limit.minor


@dataclass(frozen=True, slots=True)
class Purchase:
    id: str
    line_id: str
    hold_id: str
    merchant: str
    authorised: Money
    captured: Money
    refunded: Money
    status: str
    created_at: datetime

    @classmethod
    def of(cls, row: PurchaseRow, currency: str) -> Purchase:
        def m(minor: int) -> Money:
            return Money.from_minor(minor, currency)

        return cls(
            row.id, row.line_id, row.hold_id, row.merchant, m(row.authorised_minor),
            m(row.captured_minor), m(row.refunded_minor), row.status, _utc(row.created_at),
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Statement:
    id: str
    line_id: str
    statement_date: date
    period_start: date
    due_date: date
    opening: Money
    purchases: Money
    refunds: Money
    cash: Money
    fees: Money
    interest: Money
    payments: Money
    other: Money
    closing: Money
    minimum_due: Money
    paid: Money
    status: str
    converted: Money  # part of closing in instalment plans, not due on this statement

    @property
    def due(self) -> Money:
        """What this statement asks to be paid in full (closing less converted principal)."""
        return self.closing - self.converted

    @classmethod
    def of(cls, row: StatementRow, currency: str) -> Statement:
        def m(minor: int) -> Money:
            return Money.from_minor(minor, currency)

        return cls(
            row.id, row.line_id, row.statement_date, row.period_start, row.due_date,
            m(row.opening_minor), m(row.purchases_minor), m(row.refunds_minor),
            m(row.cash_minor), m(row.fees_minor), m(row.interest_minor),
            m(row.payments_minor), m(row.other_minor), m(row.closing_minor),
            m(row.minimum_due_minor), m(row.paid_minor), row.status, m(row.converted_minor),
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """A statement checked against the ledger: the line account's postings of the cycle."""

    statement_id: str
    statement_movement: Money  # closing - opening, as owed
    ledger_movement: Money  # minus the sum of the cycle's postings on the line account
    entries_checked: int

    @property
    def reconciled(self) -> bool:
        return self.statement_movement == self.ledger_movement

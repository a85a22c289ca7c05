"""Savings interest: daily accrual (ACT/365, Decimal) and monthly capitalisation.

A day's interest is ``balance * annual_rate / 365`` computed exactly in Decimal and rounded
(ROUND_HALF_EVEN) to a millionth of the currency's minor unit, so a month of accruals sums
exactly in integers. Capitalisation rounds each account's total (ROUND_HALF_EVEN) to minor
units and posts it as one journal entry from the bank's interest-expense account. A total that
rounds to zero stays uncapitalised and is carried into the next month's run.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal

from sqlalchemy import Connection, and_, exists, func, select, update

from finbridge.banking.ledger import EntrySpec, Leg, fingerprint, post_entry
from finbridge.banking.models import EntryKind, InterestRun, PostingResult
from finbridge.banking.tables import accounts_table, accruals_table
from finbridge.core.ids import new_id
from finbridge.core.money import Money
from finbridge.core.principal import Principal

accruals = accruals_table
accounts = accounts_table
MICRO = 1_000_000
DAYS_IN_YEAR = Decimal(365)  # ACT/365 Fixed: every day is 1/365 of a year, leap years too


def daily_interest_micro(balance_minor: int, annual_rate: Decimal) -> int:
    """One day's interest in micro-minor units.

    >>> daily_interest_micro(1_000_000_00, Decimal("0.0365"))  # 1,000,000.00 at 3.65%
    10000000000
    """
    exact = Decimal(balance_minor) * MICRO * annual_rate / DAYS_IN_YEAR
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def accrue(conn: Connection, day: date) -> InterestRun:
    already = exists().where(
        and_(accruals.c.account_id == accounts.c.id, accruals.c.accrual_date == day)
    )
    rows = conn.execute(
        select(
            accounts.c.id, accounts.c.currency, accounts.c.balance_minor, accounts.c.interest_rate
        )
        .where(
            accounts.c.kind == "savings",
            accounts.c.interest_rate.is_not(None),
            accounts.c.status != "closed",
            accounts.c.balance_minor > 0,
            ~already,
        )
        .order_by(accounts.c.id)
    ).all()
    values = []
    totals: dict[str, int] = {}
    for r in rows:
        amount = daily_interest_micro(int(r.balance_minor), Decimal(r.interest_rate))
        totals[r.currency] = totals.get(r.currency, 0) + amount
        values.append(
            {
                "account_id": r.id,
                "accrual_date": day,
                "balance_minor": int(r.balance_minor),
                "annual_rate": r.interest_rate,
                "amount_micro": amount,
                "capitalised_entry_id": None,
            }
        )
    if values:
        conn.execute(accruals.insert(), values)
    return InterestRun(day, len(values), totals)


def _month_end(year: int, month: int) -> date:
    """First day of the following month (exclusive bound)."""
    return date(year + (month == 12), month % 12 + 1, 1)


def _pending(year: int, month: int, cur: str):  # type: ignore[no-untyped-def]
    return (
        select(
            accounts.c.id,
            accounts.c.customer_id,
            accounts.c.status,
            func.sum(accruals.c.amount_micro).label("total"),
        )
        .join(accruals, accruals.c.account_id == accounts.c.id)
        .where(
            accruals.c.capitalised_entry_id.is_(None),
            accruals.c.accrual_date < _month_end(year, month),
            accounts.c.currency == cur,
        )
        .group_by(accounts.c.id, accounts.c.customer_id, accounts.c.status)
        .order_by(accounts.c.id)
    )


def has_pending(conn: Connection, year: int, month: int, cur: str) -> bool:
    return conn.execute(_pending(year, month, cur).limit(1)).first() is not None


def capitalise(
    conn: Connection,
    year: int,
    month: int,
    cur: str,
    expense_account: str,
    now: datetime,
    actor: Principal,
) -> list[tuple[PostingResult, str | None]]:
    out: list[tuple[PostingResult, str | None]] = []
    bound = _month_end(year, month)
    for row in conn.execute(_pending(year, month, cur)).all():
        minor = int(
            (Decimal(int(row.total)) / MICRO).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)
        )
        if minor == 0 or row.status == "closed":
            continue  # carried to the next run
        amount = Money.from_minor(minor, cur)
        entry_id = new_id()
        description = f"interest {year:04d}-{month:02d}"
        result = PostingResult(
            entry_id, EntryKind.INTEREST, amount, expense_account, row.id, now, description
        )
        spec = EntrySpec(
            entry_id=entry_id,
            kind=EntryKind.INTEREST.value,
            scoped_key=f"ledger:interest:{row.id}:{year:04d}-{month:02d}",
            request_fingerprint=fingerprint("interest", row.id, year, month),
            result=result.to_json(),
            description=description,
            metadata={"accrued_micro": int(row.total)},
            actor_id=actor.id,
            created_at=now,
        )
        post_entry(conn, [Leg(expense_account, cur, -minor), Leg(row.id, cur, minor)], spec)
        conn.execute(
            update(accruals)
            .where(
                accruals.c.account_id == row.id,
                accruals.c.capitalised_entry_id.is_(None),
                accruals.c.accrual_date < bound,
            )
            .values(capitalised_entry_id=entry_id)
        )
        out.append((result, row.customer_id))
    return out

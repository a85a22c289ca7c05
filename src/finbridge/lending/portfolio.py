"""Portfolio figures for the console and the API: grouped queries, no per-line loop."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from finbridge.core.money import Money
from finbridge.lending.tables import ActivityRow, LineRow, StatementRow


@dataclass(frozen=True, slots=True)
class Portfolio:
    currency: str
    lines: int
    by_status: dict[str, int]
    by_bucket: dict[str, int]
    owed_by_bucket: dict[str, Money]
    total_limit: Money
    total_owed: Money
    interest_billed: Money
    fees_billed: Money
    charged_off: Money
    recovered: Money

    @property
    def utilisation(self) -> float:
        return (
            0.0 if self.total_limit.minor == 0 else self.total_owed.minor / self.total_limit.minor
        )


def portfolio(session: Session, currency: str = "CNY") -> Portfolio:
    owed = (
        LineRow.fees_minor + LineRow.interest_minor + LineRow.revolving_minor
        + LineRow.cash_minor + LineRow.purchases_minor + LineRow.instalment_due_minor
        + LineRow.instalment_minor
    )  # fmt: skip
    by_status = dict(
        session.execute(
            select(LineRow.status, func.count())
            .where(LineRow.currency == currency)
            .group_by(LineRow.status)
        ).all()
    )
    buckets = session.execute(
        select(LineRow.bucket, func.count(), func.coalesce(func.sum(owed), 0))
        .where(LineRow.currency == currency)
        .group_by(LineRow.bucket)
    ).all()
    totals = session.execute(
        select(
            func.count(), func.coalesce(func.sum(LineRow.limit_minor), 0),
            func.coalesce(func.sum(owed), 0),
            func.coalesce(func.sum(LineRow.charged_off_minor), 0),
            func.coalesce(func.sum(LineRow.recovered_minor), 0),
        ).where(LineRow.currency == currency)
    ).one()  # fmt: skip
    billed = dict(
        session.execute(
            select(ActivityRow.kind, func.coalesce(func.sum(ActivityRow.amount_minor), 0))
            .join(LineRow, LineRow.id == ActivityRow.line_id)
            .where(LineRow.currency == currency, ActivityRow.kind.in_(("interest", "fee")))
            .group_by(ActivityRow.kind)
        ).all()
    )

    def m(minor: object) -> Money:
        return Money.from_minor(int(minor or 0), currency)  # type: ignore[call-overload]

    return Portfolio(
        currency, int(totals[0]), {str(k): int(v) for k, v in by_status.items()},
        {str(b): int(n) for b, n, _ in buckets}, {str(b): m(o) for b, _, o in buckets},
        m(totals[1]), m(totals[2]), m(billed.get("interest")), m(billed.get("fee")),
        m(totals[3]), m(totals[4]),
    )  # fmt: skip


def owed_by_day(session: Session, line_id: str) -> list[tuple[date, int]]:
    """What the line owed at the end of each day it moved (minor units), from its activity."""
    rows = session.execute(
        select(ActivityRow.business_date, func.sum(ActivityRow.amount_minor))
        .where(ActivityRow.line_id == line_id, ActivityRow.kind != "recovery")
        .group_by(ActivityRow.business_date)
        .order_by(ActivityRow.business_date)
    ).all()
    out: list[tuple[date, int]] = []
    running = 0
    for day, amount in rows:
        running += int(amount)
        out.append((day, running))
    return out


def statement_count(session: Session) -> int:
    return int(session.execute(select(func.count()).select_from(StatementRow)).scalar_one())

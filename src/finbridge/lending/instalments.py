"""Instalments: a purchase or a statement converted into 3/6/9/12 periods (issue 14).

Converting moves no money: the principal is already owed on the line. It moves from the
interest-bearing buckets into ``instalment`` (unbilled, interest-free, not due), and each period,
on its statement date, the close of business moves that period's principal into
``instalment_due`` and posts its fee (per period, or all of it at conversion when the product
says ``upfront``). Statements carry the unbilled part as ``converted``: what is due is closing
less converted. Early settlement pays the unbilled principal from the customer's deposit account
(the product decides whether unbilled periods' fees are waived or charged).

Schedule: the principal is split evenly in minor units, the remainder on the first period; the
fee per period is the principal times the product's rate per period, rounded half-even to the
minor unit (the way Huabei and Baitiao quote it: the same fee every period).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from finbridge.core.errors import BusinessRuleViolation, Conflict, NotFound, ValidationError
from finbridge.core.ids import new_id
from finbridge.core.money import Money
from finbridge.core.principal import Principal
from finbridge.lake import Event, emit
from finbridge.lending.buckets import Buckets
from finbridge.lending.calendar import statement_date_after
from finbridge.lending.models import Purchase
from finbridge.lending.products import INSTALMENT_PERIODS
from finbridge.lending.tables import (
    ActivityRow,
    InstalmentPeriodRow,
    InstalmentPlanRow,
    LineRow,
    PurchaseRow,
    StatementRow,
)

_LIVE = ("active", "suspended")


@dataclass(frozen=True, slots=True)
class InstalmentPeriod:
    number: int
    bill_date: date
    principal: Money
    fee: Money
    status: str  # scheduled | billed | settled | refunded (or quoted, before a plan exists)

    @property
    def total(self) -> Money:
        return self.principal + self.fee


@dataclass(frozen=True, slots=True)
class InstalmentPlan:
    """A plan, or a quote of one (``id`` is None until the customer confirms)."""

    id: str | None
    line_id: str
    source: str  # purchase | statement
    source_id: str
    periods: int
    principal: Money
    fee_per_period: Money
    fee_mode: str
    upfront_fee: Money
    total_fee: Money
    status: str
    schedule: tuple[InstalmentPeriod, ...]

    @property
    def remaining(self) -> Money:
        """Principal not yet billed (what early settlement pays)."""
        left = sum(p.principal.minor for p in self.schedule if p.status == "scheduled")
        return Money.from_minor(left, self.principal.code)


def schedule(
    principal_minor: int,
    periods: int,
    rate_per_period: Decimal,
    fee_mode: str,
    first_bill: date,
    statement_day: int,
    currency: str,
) -> tuple[list[tuple[int, date, int, int]], int]:
    """(number, bill date, principal, fee) per period, and the fee charged at conversion."""
    base, rest = divmod(principal_minor, periods)
    fee = int((principal_minor * rate_per_period).to_integral_value(ROUND_HALF_EVEN))
    rows = []
    bill = first_bill
    for n in range(1, periods + 1):
        period_fee = fee if fee_mode == "per_period" else 0
        rows.append((n, bill, base + (rest if n == 1 else 0), period_fee))
        bill = statement_date_after(bill, statement_day)
    return rows, fee * periods if fee_mode == "upfront" else 0


class Instalments:
    """Bound to one lending service (``platform.lending.instalments``)."""

    def __init__(self, service: Any) -> None:
        # Typed loosely: the service builds this object (no import cycle).
        self.svc = service

    @property
    def _day(self) -> Any:
        # The close of business's ledger charge (fee postings that may lower the floor).
        from finbridge.lending.cob._steps import LendingDay

        return LendingDay(self.svc)

    # -- quotes and conversions --------------------------------------------------------------

    def _terms(self, line: LineRow, periods: int) -> tuple[Decimal, str]:
        allowed = tuple(line.terms.get("instalment_periods") or ())
        if periods not in INSTALMENT_PERIODS or periods not in allowed:
            raise ValidationError(
                f"periods must be one of {', '.join(map(str, allowed))}", field="periods"
            )
        if line.status != "active" or line.dpd > 0:
            state = "delinquent" if line.dpd > 0 else line.status
            raise BusinessRuleViolation(
                f"instalments are not available on a {state} line", field="line_id"
            )
        pct = Decimal(str(line.terms["instalment_fee_pct_per_period"]))
        return pct, str(line.terms.get("instalment_fee_mode") or "per_period")

    def _line(self, session: Session, actor: Principal, line_id: str) -> LineRow:
        line = session.get(LineRow, line_id)
        if line is None:
            raise NotFound("no such credit line", field="line_id")
        self.svc._authorise(actor, "lending:write", line.customer_id)
        return line

    def _source(
        self, session: Session, actor: Principal, source: str, source_id: str
    ) -> tuple[LineRow, int, StatementRow | None]:
        """The line, the principal that may be converted, and the statement it is billed on."""
        if source == "purchase":
            purchase = session.get(PurchaseRow, source_id)
            if purchase is None:
                raise NotFound("no such purchase", field="purchase_id")
            line = self._line(session, actor, purchase.line_id)
            amount = purchase.captured_minor - purchase.refunded_minor
            if purchase.status != "captured" or amount <= 0:
                raise BusinessRuleViolation(
                    "only a captured purchase with an amount left can be converted",
                    field="purchase_id",
                )
            captured_on = session.execute(
                select(ActivityRow.business_date).where(
                    ActivityRow.purchase_id == source_id, ActivityRow.kind == "purchase"
                )
            ).scalar()
            # Already on a statement: that statement's due amount shrinks by the conversion.
            st = session.execute(
                select(StatementRow)
                .where(StatementRow.line_id == line.id, StatementRow.statement_date >= captured_on)
                .order_by(StatementRow.statement_date)
                .limit(1)
            ).scalar_one_or_none() if captured_on is not None else None  # fmt: skip
            if st is not None and st.status != "open":
                raise BusinessRuleViolation(
                    "the purchase's statement is past its due date", field="purchase_id"
                )
        elif source == "statement":
            st = session.get(StatementRow, source_id)
            if st is None:
                raise NotFound("no such statement", field="statement_id")
            line = self._line(session, actor, st.line_id)
            if st.status != "open":
                raise BusinessRuleViolation(
                    f"the statement is {st.status}: only an open statement before its due "
                    "date can be converted",
                    field="statement_id",
                )
            amount = (
                st.closing_minor - st.converted_minor - st.paid_minor
                - st.fees_minor - st.interest_minor - line.instalment_due_minor
            )  # fmt: skip
        else:  # pragma: no cover - the module's own callers
            raise ValueError(source)
        amount = min(amount, line.purchases_minor + line.revolving_minor)
        if amount <= 0:
            raise BusinessRuleViolation(
                "nothing is left to convert (already paid or converted)", field=f"{source}_id"
            )
        return line, amount, st

    def quote(self, actor: Principal, source: str, source_id: str, periods: int) -> InstalmentPlan:
        """The schedule and fee a conversion would make, for the customer to confirm."""
        with self.svc._tx() as session:
            line, amount, _ = self._source(session, actor, source, source_id)
        return self._plan_of(line, None, source, source_id, periods, amount, "quoted")

    def _plan_of(
        self,
        line: LineRow,
        plan_id: str | None,
        source: str,
        source_id: str,
        periods: int,
        amount: int,
        status: str,
    ) -> InstalmentPlan:
        cur = line.currency
        pct, mode = self._terms(line, periods)
        rows, upfront = schedule(
            amount, periods, pct, mode, line.next_statement_date,
            int(line.terms["statement_day"]), cur,
        )  # fmt: skip
        sched = tuple(
            InstalmentPeriod(n, d, Money.from_minor(p, cur), Money.from_minor(f, cur), status)
            for n, d, p, f in rows
        )
        fee = int((amount * pct).to_integral_value(ROUND_HALF_EVEN))
        return InstalmentPlan(
            plan_id, line.id, source, source_id, periods, Money.from_minor(amount, cur),
            Money.from_minor(fee, cur), mode, Money.from_minor(upfront, cur),
            Money.from_minor(fee * periods, cur), status, sched,
        )  # fmt: skip

    def convert(
        self, actor: Principal, source: str, source_id: str, periods: int
    ) -> InstalmentPlan:
        """Convert a purchase or a statement (once: converting the same source again returns
        the plan made the first time, or a conflict if it asked for other periods)."""
        existing = self._existing(actor, source, source_id)
        if existing is not None:
            if existing.periods != periods:
                raise Conflict(
                    f"this {source} is already in a {existing.periods}-period plan",
                    field="periods",
                )
            self._upfront_fee(existing)
            return existing
        plan_id = new_id()
        try:
            with self.svc._tx() as session:
                line, amount, st = self._source(session, actor, source, source_id)
                line = self.svc._lock_line(session, line.id)
                quote = self._plan_of(line, plan_id, source, source_id, periods, amount, "active")
                day = self.svc.activity_date(session)
                session.add(
                    InstalmentPlanRow(
                        id=plan_id, line_id=line.id, source=source, source_id=source_id,
                        periods=periods, principal_minor=amount,
                        fee_per_period_minor=quote.fee_per_period.minor, fee_mode=quote.fee_mode,
                        status="active", created_on=day, created_at=self.svc.clock.now(),
                    )
                )  # fmt: skip
                session.flush()
                for p in quote.schedule:
                    session.add(
                        InstalmentPeriodRow(
                            plan_id=plan_id, number=p.number, bill_date=p.bill_date,
                            principal_minor=p.principal.minor, fee_minor=p.fee.minor,
                            status="scheduled",
                        )
                    )  # fmt: skip
                _set_buckets(line, _buckets(line).convert(amount))
                if st is not None:
                    st.converted_minor += amount
                    st.minimum_due_minor = min(
                        st.minimum_due_minor, max(0, st.closing_minor - st.converted_minor)
                    )
                    if st.paid_minor >= st.closing_minor - st.converted_minor:
                        st.status = "paid"
                emit(session, self._event(line, quote, day))
        except IntegrityError:
            # A racing conversion of the same source committed first: its plan stands.
            found = self._existing(actor, source, source_id)
            assert found is not None
            return found
        plan = self.plan(actor, plan_id)
        self._upfront_fee(plan)
        return plan

    def _upfront_fee(self, plan: InstalmentPlan) -> None:
        if plan.fee_mode != "upfront" or not plan.upfront_fee.is_positive() or plan.id is None:
            return
        with self.svc._tx() as session:
            line = session.get(LineRow, plan.line_id)
            assert line is not None
            day = self.svc.activity_date(session)
            account = line.account_id
        self._day._charge(
            plan.line_id, account, "fee", plan.upfront_fee.minor, f"inst:{plan.id}:upfront", day
        )

    def _event(self, line: LineRow, plan: InstalmentPlan, day: date) -> Event:
        return Event(
            event_type="lending.instalment_converted",
            occurred_at=self.svc.clock.now(),
            source="lending",
            subject_id=line.customer_id,
            payload={
                "line_id": line.id,
                "plan_id": plan.id or "",
                "source": plan.source,
                "source_id": plan.source_id,
                "periods": plan.periods,
                "principal": str(plan.principal.amount),
                "total_fee": str(plan.total_fee.amount),
                "currency": line.currency,
                "business_date": day.isoformat(),
            },
        ).validated()

    # -- reading -------------------------------------------------------------------------

    def _existing(self, actor: Principal, source: str, source_id: str) -> InstalmentPlan | None:
        with self.svc._tx() as session:
            found = session.execute(
                select(InstalmentPlanRow.id).where(
                    InstalmentPlanRow.source == source, InstalmentPlanRow.source_id == source_id
                )
            ).scalar()
        return None if found is None else self.plan(actor, found)

    def plan(self, actor: Principal, plan_id: str) -> InstalmentPlan:
        with self.svc._tx() as session:
            row = session.get(InstalmentPlanRow, plan_id)
            if row is None:
                raise NotFound("no such instalment plan", field="plan_id")
            periods = list(
                session.execute(
                    select(InstalmentPeriodRow)
                    .where(InstalmentPeriodRow.plan_id == plan_id)
                    .order_by(InstalmentPeriodRow.number)
                ).scalars()
            )
        line = self.svc._line_row(actor, row.line_id, "lending:read")
        return _stored(row, periods, line.currency)

    def plans(self, actor: Principal, line_id: str) -> list[InstalmentPlan]:
        line = self.svc._line_row(actor, line_id, "lending:read")
        with self.svc._tx() as session:
            rows = list(
                session.execute(
                    select(InstalmentPlanRow)
                    .where(InstalmentPlanRow.line_id == line_id)
                    .order_by(InstalmentPlanRow.created_at.desc(), InstalmentPlanRow.id)
                ).scalars()
            )
            periods = list(
                session.execute(
                    select(InstalmentPeriodRow)
                    .where(InstalmentPeriodRow.plan_id.in_([r.id for r in rows]))
                    .order_by(InstalmentPeriodRow.number)
                ).scalars()
            )
        return [_stored(r, [p for p in periods if p.plan_id == r.id], line.currency) for r in rows]

    def convertible(self, actor: Principal, line_id: str) -> list[Purchase]:
        """Captured purchases on the line with an amount left and no plan yet, newest first."""
        line = self.svc._line_row(actor, line_id, "lending:read")
        with self.svc._tx() as session:
            planned = select(InstalmentPlanRow.source_id).where(
                InstalmentPlanRow.source == "purchase", InstalmentPlanRow.line_id == line_id
            )
            rows = session.execute(
                select(PurchaseRow)
                .where(
                    PurchaseRow.line_id == line_id,
                    PurchaseRow.status == "captured",
                    PurchaseRow.captured_minor > PurchaseRow.refunded_minor,
                    PurchaseRow.id.not_in(planned),
                )
                .order_by(PurchaseRow.created_at.desc())
                .limit(50)
            ).scalars()
            return [Purchase.of(r, line.currency) for r in rows]

    # -- refunds of a purchase in a plan -------------------------------------------------

    def unbilled_of_purchase(self, purchase_id: str) -> int:
        """The unbilled principal of the purchase's active plan (what a refund may take)."""
        with self.svc._tx() as session:
            total = session.execute(
                select(func.coalesce(func.sum(InstalmentPeriodRow.principal_minor), 0))
                .join(InstalmentPlanRow, InstalmentPlanRow.id == InstalmentPeriodRow.plan_id)
                .where(
                    InstalmentPlanRow.source == "purchase",
                    InstalmentPlanRow.source_id == purchase_id,
                    InstalmentPlanRow.status == "active",
                    InstalmentPeriodRow.status == "scheduled",
                )
            ).scalar_one()
        return int(total)

    def reduce(self, session: Session, purchase_id: str, amount: int) -> None:
        """Take ``amount`` of unbilled principal off the plan's last periods, in the caller's
        transaction (the refund's booking): a period emptied goes, with its fee."""
        plan = session.execute(
            select(InstalmentPlanRow).where(
                InstalmentPlanRow.source == "purchase",
                InstalmentPlanRow.source_id == purchase_id,
                InstalmentPlanRow.status == "active",
            )
        ).scalar_one()
        periods = session.execute(
            select(InstalmentPeriodRow)
            .where(
                InstalmentPeriodRow.plan_id == plan.id, InstalmentPeriodRow.status == "scheduled"
            )
            .order_by(InstalmentPeriodRow.number.desc())
        ).scalars()
        left = amount
        for period in periods:
            if left <= 0:
                break
            take = min(period.principal_minor, left)
            period.principal_minor -= take
            left -= take
            if period.principal_minor == 0:
                period.status, period.fee_minor = "refunded", 0
        session.flush()
        if self._scheduled(session, plan.id) is None:
            plan.status = "settled"

    @staticmethod
    def _scheduled(session: Session, plan_id: str) -> int | None:
        found: int | None = session.execute(
            select(InstalmentPeriodRow.number).where(
                InstalmentPeriodRow.plan_id == plan_id,
                InstalmentPeriodRow.status == "scheduled",
            )
        ).scalar()
        return found

    # -- early settlement ----------------------------------------------------------------

    def settle(self, actor: Principal, plan_id: str, *, idempotency_key: str) -> InstalmentPlan:
        """Pay the unbilled principal now from the line's deposit account; the product's rule
        waives the unbilled periods' fees or charges them with the settlement."""
        plan = self.plan(actor, plan_id)
        line = self.svc._line_row(actor, plan.line_id, "lending:write")
        if plan.status != "active":
            if plan.status == "settled":
                return plan
            raise BusinessRuleViolation(f"the plan is {plan.status}", field="plan_id")
        key = self.svc._key(line.id, "settlement", f"{plan_id}:{idempotency_key}")
        remaining = plan.remaining
        with self.svc._tx() as session:
            day = self.svc.activity_date(session)
        rule = str(line.terms.get("instalment_early_settlement") or "waive_fees")
        fees = sum(p.fee.minor for p in plan.schedule if p.status == "scheduled")
        if rule == "charge_fees" and fees:
            self._day._charge(line.id, line.account_id, "fee", fees, f"inst:{plan_id}:settle",
                                  day)  # fmt: skip
        if remaining.is_positive():
            from finbridge.lending.service import _mover

            result = self.svc.banking.transfer(
                _mover(actor), line.deposit_account_id, line.account_id, remaining,
                idempotency_key=key, description="instalment early settlement",
            )  # fmt: skip
        with self.svc._tx() as session:
            if remaining.is_positive():
                self.svc._book_in(
                    session, line.id, "settlement", -remaining.minor, result.entry_id, key,
                    day=day,
                )  # fmt: skip
            session.execute(
                update(InstalmentPeriodRow)
                .where(
                    InstalmentPeriodRow.plan_id == plan_id,
                    InstalmentPeriodRow.status == "scheduled",
                )
                .values(status="settled")
            )
            session.execute(
                update(InstalmentPlanRow)
                .where(InstalmentPlanRow.id == plan_id)
                .values(status="settled")
            )
        return self.plan(actor, plan_id)

    # -- the close of business -----------------------------------------------------------

    def bill(self, day: date) -> dict[str, int]:
        """Bill every period whose statement date has come: its fee (per-period plans) on the
        ledger, then its principal moved from unbilled to due, once per period."""
        with self.svc._tx() as session:
            due = session.execute(
                select(
                    InstalmentPeriodRow.plan_id, InstalmentPeriodRow.number,
                    InstalmentPeriodRow.principal_minor, InstalmentPeriodRow.fee_minor,
                    LineRow.id, LineRow.account_id,
                )
                .join(InstalmentPlanRow, InstalmentPlanRow.id == InstalmentPeriodRow.plan_id)
                .join(LineRow, LineRow.id == InstalmentPlanRow.line_id)
                .where(
                    InstalmentPeriodRow.bill_date <= day,
                    InstalmentPeriodRow.status == "scheduled",
                    InstalmentPlanRow.status == "active",
                    LineRow.status.in_(_LIVE),
                )
                .order_by(InstalmentPeriodRow.plan_id, InstalmentPeriodRow.number)
            ).all()  # fmt: skip
        fees = 0
        for plan_id, number, principal, fee, line_id, account_id in due:
            # The fee first, under its own key: a run killed after it finds it booked.
            if fee and self._day._charge(
                line_id, account_id, "fee", fee, f"inst:{plan_id}:{number}", day
            ):
                fees += 1
            with self.svc._tx() as session:
                period = session.get(InstalmentPeriodRow, (plan_id, number))
                assert period is not None
                if period.status != "scheduled":
                    continue
                period.status = "billed"
                line = self.svc._lock_line(session, line_id)
                _set_buckets(line, _buckets(line).bill_instalment(principal))
                left = session.execute(
                    select(InstalmentPeriodRow.number).where(
                        InstalmentPeriodRow.plan_id == plan_id,
                        InstalmentPeriodRow.status == "scheduled",
                    )
                ).first()
                if left is None:
                    session.execute(
                        update(InstalmentPlanRow)
                        .where(InstalmentPlanRow.id == plan_id)
                        .values(status="completed")
                    )
        return {"periods": len(due), "fees": fees}


def _buckets(line: LineRow) -> Buckets:
    from finbridge.lending.service import line_buckets

    return line_buckets(line)


def _set_buckets(line: LineRow, b: Buckets) -> None:
    for column, value in b.as_columns().items():
        setattr(line, column, value)


def _stored(row: InstalmentPlanRow, periods: list[InstalmentPeriodRow], cur: str) -> InstalmentPlan:
    def m(minor: int) -> Money:
        return Money.from_minor(minor, cur)

    sched = tuple(
        InstalmentPeriod(p.number, p.bill_date, m(p.principal_minor), m(p.fee_minor), p.status)
        for p in periods
    )
    per = row.fee_per_period_minor
    upfront = per * row.periods if row.fee_mode == "upfront" else 0
    return InstalmentPlan(
        row.id, row.line_id, row.source, row.source_id, row.periods, m(row.principal_minor),
        m(per), row.fee_mode, m(upfront), m(per * row.periods), row.status, sched,
    )  # fmt: skip

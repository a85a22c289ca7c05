"""Lending's own close-of-business steps, set-based where the ledger is not involved.

- ``lending.accrue_interest``: one INSERT ... SELECT over every line (a day's interest in
  micro-minor units: balance x rate in millionths, exact integers) and one UPDATE adding it to
  the lines' unbilled interest, in one transaction, so a day is accrued once or not at all.
- ``lending.due_dates``: statements due today that are not paid in full lose their grace period
  (interest on each purchase from its business date to the due date, and the unpaid purchase
  principal starts bearing interest); those below the minimum become overdue and pay the late fee.
- ``lending.statements``: cycles closing today bill their unbilled interest (one ledger entry
  per line, posted by banking's batch of the bank's charges and booked in bulk, 5,000 lines a
  batch) and are cut from the activity rows summed in SQL (one grouped query per 5,000 lines).
- ``lending.delinquency``: days past due and buckets for every line, suspension and its end
  (the ledger floor: a suspended line's floor is its balance), charge-off against the allowance.

Ledger postings (interest, fees, charge-offs) carry keys derived from the line, the kind and the
date, so a step that dies half-way and runs again posts nothing twice.
"""

from __future__ import annotations

import json
import uuid
from contextlib import suppress
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import (
    Date,
    String,
    Table,
    Text,
    bindparam,
    case,
    func,
    insert,
    literal,
    select,
    true,
    update,
)
from sqlalchemy import cast as sa_cast
from sqlalchemy.orm import Session

from finbridge.banking import BankCharge, InternalAccount
from finbridge.core.errors import FinbridgeError
from finbridge.core.money import Money
from finbridge.lake import Event, emit_many
from finbridge.lending.calendar import due_date_for, statement_date_after
from finbridge.lending.cob._runner import CobStep, FunctionStep
from finbridge.lending.service import LENDING, LendingService
from finbridge.lending.tables import (
    AccrualRow,
    ActivityRow,
    InstalmentPlanRow,
    LineRow,
    PurchaseRow,
    StatementRow,
)

_LIVE = ("active", "suspended")
# Lines per batch of the bank's charges (one banking call, one lending booking transaction).
BATCH = 5000
_LINES = cast(Table, LineRow.__table__)
_ACCRUALS = cast(Table, AccrualRow.__table__)
_STATEMENTS = cast(Table, StatementRow.__table__)
_ACTIVITY = cast(Table, ActivityRow.__table__)


DEFAULT_DPD = 90  # the Basel default definition: 90 days past due


def bucket_for(dpd: int) -> str:
    if dpd <= 0:
        return "current"
    months = (dpd + 29) // 30
    return "M6+" if months >= 6 else f"M{months}"


class LendingDay:
    """The steps, bound to one lending service."""

    def __init__(self, service: LendingService) -> None:
        self.svc = service
        self.engine = service.engine

    def steps(self) -> list[CobStep]:
        return [
            FunctionStep("lending.accrue_interest", self.accrue_interest),
            FunctionStep("lending.due_dates", self.due_dates),
            FunctionStep("lending.instalments", self.svc.instalments.bill),
            FunctionStep("lending.statements", self.close_statements),
            FunctionStep("lending.delinquency", self.delinquency),
            FunctionStep("lending.limit_review", self.svc.reviews.review_due),
        ]

    # -- interest ------------------------------------------------------------------------

    def accrue_interest(self, day: date) -> dict[str, Any]:
        lines, accruals, act = _LINES, _ACCRUALS, _ACTIVITY

        def later(delta: Any) -> Any:
            # What activity dated after ``day`` changed: taken off today's bucket.
            return (
                select(func.coalesce(func.sum(delta), 0))
                .where(act.c.line_id == lines.c.id, act.c.business_date > day)
                .scalar_subquery()
            )

        cash = lines.c.cash_minor - later(act.c.cash_delta_minor)
        revolving = lines.c.revolving_minor - later(act.c.revolving_delta_minor)
        micro = cash * lines.c.cash_rate_e6 + revolving * lines.c.purchase_rate_e6
        already = select(accruals.c.line_id).where(
            accruals.c.business_date == day, accruals.c.kind == "daily"
        )
        with self.svc._tx() as session:
            source = select(
                lines.c.id, literal(day, Date).label("d"), literal("daily", String).label("k"),
                (cash + revolving).label("b"), micro.label("m"),
            ).where(
                lines.c.status.in_(_LIVE),
                cash + revolving > 0,
                lines.c.id.not_in(already),
            )  # fmt: skip
            added = session.execute(  # type: ignore[attr-defined]
                insert(accruals).from_select(
                    ["line_id", "business_date", "kind", "base_minor", "micro"], source
                )
            ).rowcount
            # Same transaction as the insert: the rows just written are exactly the ones added.
            # One UPDATE ... FROM (both databases), not a subquery per line.
            if added:
                session.execute(
                    update(lines)
                    .where(accruals.c.line_id == lines.c.id, accruals.c.business_date == day,
                           accruals.c.kind == "daily")
                    .values(accrued_micro=lines.c.accrued_micro + accruals.c.micro)
                )  # fmt: skip
        return {"lines": int(added or 0)}

    # -- due dates -----------------------------------------------------------------------

    def due_dates(self, day: date) -> dict[str, int]:
        """Statements whose due date (plus the product's grace days) ended today."""
        with self.svc._tx() as session:
            rows = session.execute(
                select(StatementRow, LineRow)
                .join(LineRow, LineRow.id == StatementRow.line_id)
                .where(StatementRow.status == "open", StatementRow.due_date <= day,
                       LineRow.status.in_(_LIVE))
            ).all()  # fmt: skip
            due = [
                (st, line)
                for st, line in rows
                if st.due_date + timedelta(days=int(line.terms.get("grace_days", 0))) == day
            ]
            lost = 0
            overdue: list[tuple[str, str, str, int]] = []
            for st, line in due:
                if st.paid_minor >= st.closing_minor - st.converted_minor:
                    st.status = "paid"
                    continue
                lost += self._lose_grace(session, st, line, day)
                if st.paid_minor < st.minimum_due_minor:
                    st.status = "overdue"
                    fee = Money.of(line.terms["late_fee"], line.currency)
                    overdue.append((line.id, line.account_id, st.id, fee.minor))
                else:
                    st.status = "minimum_paid"
        fees = 0
        for line_id, account_id, statement_id, fee_minor in overdue:
            if fee_minor and self._charge(line_id, account_id, "fee", fee_minor, statement_id, day):
                fees += 1
        return {"due": len(due), "grace_lost": lost, "late_fees": fees}

    def _lose_grace(self, session: Any, st: StatementRow, line: LineRow, day: date) -> int:
        """Interest from each purchase's business date to the due date, and the unpaid
        purchase principal starts bearing interest tomorrow."""
        exists = session.get(AccrualRow, (line.id, day, "grace_lost"))
        if exists is not None:
            return 0
        rows = session.execute(
            select(ActivityRow.business_date, func.sum(ActivityRow.amount_minor))
            .where(
                ActivityRow.line_id == line.id,
                ActivityRow.kind.in_(("purchase", "refund")),
                ActivityRow.business_date >= st.period_start,
                ActivityRow.business_date <= st.statement_date,
                # Purchases in an instalment plan bear no interest (the plan's fee is its price).
                ActivityRow.purchase_id.is_(None)
                | ActivityRow.purchase_id.not_in(
                    select(InstalmentPlanRow.source_id).where(
                        InstalmentPlanRow.source == "purchase"
                    )
                ),
            )
            .group_by(ActivityRow.business_date)
        ).all()
        micro = sum(
            max(0, int(amount)) * line.purchase_rate_e6 * ((day - d).days + 1) for d, amount in rows
        )
        base = sum(max(0, int(a)) for _, a in rows)
        session.add(
            AccrualRow(line_id=line.id, business_date=day, kind="grace_lost", base_minor=base,
                       micro=micro)
        )  # fmt: skip
        line.accrued_micro += micro
        unpaid = st.closing_minor - st.converted_minor - st.paid_minor
        moved = min(line.purchases_minor, max(0, unpaid))
        line.purchases_minor -= moved
        line.revolving_minor += moved
        return 1

    # -- statements ----------------------------------------------------------------------

    def close_statements(self, day: date) -> dict[str, int]:
        with self.svc._tx() as session:
            due = list(
                session.execute(
                    select(
                        LineRow.id, LineRow.account_id, LineRow.currency, LineRow.accrued_micro
                    ).where(LineRow.next_statement_date == day, LineRow.status.in_(_LIVE))
                ).all()
            )
        # Bill unbilled interest first (ledger entries), so the cut statement includes it.
        bills = [
            (line_id, account_id, currency, minor)
            for line_id, account_id, currency, accrued in sorted(due)
            if (minor := int((Decimal(accrued) / 10**6).to_integral_value(ROUND_HALF_EVEN))) > 0
        ]
        billed = self._bill_interest(day, bills)
        cut = self._cut(day)
        return {"lines": len(due), "interest_billed": billed, "statements": cut}

    def _bill_interest(self, day: date, bills: list[tuple[str, str, str, int]]) -> int:
        """Each line's interest as its own ledger entry (banking's batch of the bank's charges,
        BATCH lines per call), booked by lending in one transaction per batch.

        Retries are safe: a line's key is the one :meth:`_charge` uses for the cycle's interest,
        so a batch killed after banking posted it finds its entries again (same key, no second
        posting) and books them; lines booked already are left out.
        """
        with self.svc._tx() as session:
            booked = set(
                session.execute(
                    select(ActivityRow.line_id).where(
                        ActivityRow.kind == "interest", ActivityRow.business_date == day
                    )
                ).scalars()
            )
        left = [b for b in bills if b[0] not in booked]
        self._make_room(day, left)
        billed = 0
        for k in range(0, len(left), BATCH):
            batch = left[k : k + BATCH]
            keys = {
                line_id: _charge_key(line_id, "interest", "cycle", day) for line_id, *_ in batch
            }
            charges = [
                BankCharge(account_id, Money.from_minor(minor, currency), keys[line_id],
                           InternalAccount.INTEREST_INCOME, "credit line interest")
                for line_id, account_id, currency, minor in batch
            ]  # fmt: skip
            result = self.svc.bank_postings.post_charges(LENDING, charges, emit_events=True)
            to_book = [
                (line_id, "interest", minor, result.entries[keys[line_id]], keys[line_id])
                for line_id, _, _, minor in batch
                if keys[line_id] in result.entries
            ]
            with self.svc._tx() as session:
                billed += self.svc._book_many(session, to_book, day)
            for line_id, account_id, _, minor in batch:
                if keys[line_id] in result.declined:
                    # Refused by the ledger (the floor moved meanwhile, a frozen account...):
                    # once more alone, which lowers the floor first; one refusal stops only
                    # that line's interest.
                    with suppress(FinbridgeError):
                        billed += self._charge(line_id, account_id, "interest", minor, "cycle", day)
        return billed

    def _make_room(self, day: date, bills: list[tuple[str, str, str, int]]) -> None:
        """The bank's interest may take a line over its limit (recorded on the line): lower
        the floor first where lending's own figures say the posting would not fit.

        One query finds the candidates among the lines due today (a suspended line, or one
        whose owed + held + unbilled interest rounded up passes its limit), not a read per line.
        """
        c = _LINES.c
        owed_now = (
            c.fees_minor + c.interest_minor + c.revolving_minor + c.cash_minor
            + c.purchases_minor + c.instalment_due_minor + c.instalment_minor - c.credit_minor
        )  # fmt: skip
        held = (
            select(PurchaseRow.line_id, func.sum(PurchaseRow.authorised_minor).label("minor"))
            .where(PurchaseRow.status == "authorised")
            .group_by(PurchaseRow.line_id)
            .subquery()
        )
        held_minor = func.coalesce(held.c.minor, 0)
        with self.svc._tx() as session:
            rows = {
                r.id: r
                for r in session.execute(
                    select(c.id, c.status, c.limit_minor, c.currency,
                           (owed_now + held_minor).label("owed"))
                    .select_from(_LINES.outerjoin(held, held.c.line_id == c.id))
                    .where(
                        c.next_statement_date == day, c.status.in_(_LIVE),
                        (c.status != "active")
                        | (owed_now + held_minor + c.accrued_micro / 10**6 + 1 > c.limit_minor),
                    )
                ).all()
            }  # fmt: skip
        bank = self.svc.bank_postings
        for line_id, account_id, _, minor in bills:
            r = rows.get(line_id)
            if r is None:
                continue
            if r.status != "active" or r.owed + minor > r.limit_minor:
                bal = bank.balance(LENDING, account_id)
                if bal.available.minor - minor < bal.floor.minor:
                    lowered = min(bal.available.minor - minor, 0)
                    bank.set_floor(LENDING, account_id, Money.from_minor(lowered, r.currency))

    def _cut(self, day: date) -> int:
        """Cut every cycle closing today, BATCH lines (in id order) per transaction: each
        transaction moves its lines' next statement date on, so the next one starts where it
        ended and a resumed step finds only the lines still to cut."""
        cut = 0
        while True:
            lines, statements = self._cut_chunk(day)
            cut += statements
            if lines < BATCH:
                return cut

    def _cut_chunk(self, day: date) -> tuple[int, int]:
        """Cut the next BATCH lines due today; returns (lines, statements written)."""
        lines, st, a = _LINES, _STATEMENTS, _ACTIVITY
        due_today = (lines.c.next_statement_date == day) & lines.c.status.in_(_LIVE)
        with self.svc._tx() as session:
            line_ids = list(
                session.execute(
                    select(lines.c.id).where(due_today).order_by(lines.c.id).limit(BATCH)
                ).scalars()
            )
            if not line_ids:
                return 0, 0
            found = len(line_ids)
            # The chunk as a range of ids, not a list of them: a few bound values instead of
            # thousands per statement (PostgreSQL's driver parses a long statement each time).
            chunk = due_today & lines.c.id.between(line_ids[0], line_ids[-1])
            # Terms as text: lines of one product version share it, so it is parsed once.
            info = {
                r.id: r
                for r in session.execute(
                    select(
                        lines.c.id, lines.c.opened_on, _as_text(lines.c.terms).label("terms"),
                        lines.c.currency, lines.c.instalment_minor, lines.c.instalment_due_minor,
                    ).where(chunk)
                ).all()
            }  # fmt: skip
            line_ids = sorted(info)  # the chunk's lines as the statements below see them
            last_of = (
                select(st.c.line_id, func.max(st.c.statement_date).label("last"))
                .join(lines, lines.c.id == st.c.line_id)
                .where(chunk)
                .group_by(st.c.line_id)
                .subquery()
            )
            previous = {
                r.line_id: (r.statement_date, r.closing_minor)
                for r in session.execute(
                    select(st.c.line_id, st.c.statement_date, st.c.closing_minor).join(
                        last_of,
                        (last_of.c.line_id == st.c.line_id)
                        & (last_of.c.last == st.c.statement_date),
                    )
                ).all()
            }
            # The cycle's activity summed per line and kind in the database: from the day
            # after the last statement (or the opening day) to today.
            since = (
                (last_of.c.last.is_(None) & (a.c.business_date >= lines.c.opened_on))
                | (a.c.business_date > last_of.c.last)
            )  # fmt: skip
            sums: dict[str, dict[str, int]] = {lid: {} for lid in line_ids}
            grouped = (
                select(a.c.line_id, a.c.kind, func.sum(a.c.amount_minor))
                .select_from(
                    a.join(lines, lines.c.id == a.c.line_id).outerjoin(
                        last_of, last_of.c.line_id == a.c.line_id
                    )
                )
                .where(chunk, a.c.business_date <= day, a.c.kind != "recovery", since)
                .group_by(a.c.line_id, a.c.kind)
            )  # fmt: skip
            for lid, kind, amount in session.execute(grouped).all():
                sums[lid][kind] = int(amount)
            rows = []
            next_dates: dict[date, list[str]] = {}
            now = self.svc.clock.now()
            for lid in line_ids:
                cycle = _cycle_terms(info[lid].terms, info[lid].currency)
                nxt = statement_date_after(day, cycle.statement_day)
                next_dates.setdefault(nxt, []).append(lid)
                last = previous.get(lid)
                if last is not None and last[0] == day:
                    continue  # cut already (a resumed step)
                s = sums[lid]
                opening = last[1] if last is not None else 0
                closing = opening + sum(s.values())
                # Unbilled instalment principal is owed but not due on this statement; billed
                # periods are due in full, like fees and interest.
                converted = min(max(closing, 0), int(info[lid].instalment_minor))
                due = closing - converted
                charges = min(
                    max(due, 0),
                    s.get("fee", 0) + s.get("interest", 0) + int(info[lid].instalment_due_minor),
                )
                start = last[0] + timedelta(days=1) if last is not None else info[lid].opened_on
                rows.append({
                    "id": _statement_id(lid, day), "line_id": lid, "statement_date": day,
                    "period_start": start, "due_date": due_date_for(day, cycle.due_days),
                    "opening_minor": opening, "purchases_minor": s.get("purchase", 0),
                    "refunds_minor": -s.get("refund", 0) - s.get("plan_refund", 0),
                    "cash_minor": s.get("cash", 0),
                    "fees_minor": s.get("fee", 0), "interest_minor": s.get("interest", 0),
                    "payments_minor": -s.get("payment", 0) - s.get("settlement", 0),
                    "other_minor": s.get("charge_off", 0),
                    "closing_minor": closing, "converted_minor": converted,
                    "minimum_due_minor": _minimum(due, charges, cycle.min_pct, cycle.min_floor),
                    "paid_minor": 0, "status": "open" if due > 0 else "paid",
                    "created_at": now,
                })  # fmt: skip
            if rows:
                session.execute(insert(_STATEMENTS), rows)
            if len(next_dates) == 1:  # one statement day in the chunk: the usual case
                (nxt,) = next_dates
                session.execute(update(lines).where(chunk).values(next_statement_date=nxt))
            else:
                for nxt, ids in next_dates.items():
                    session.execute(
                        update(lines).where(lines.c.id.in_(ids)).values(next_statement_date=nxt)
                    )
        return found, len(rows)

    # -- delinquency ---------------------------------------------------------------------

    def _default_labels(self, session: Any, day: date, line_ids: list[str]) -> None:
        """The learning loop's default label: a line reaching 90 days past due today is a
        default, known now (``lending.default_label``), once per line and episode."""
        if not line_ids:
            return
        owners = session.execute(
            select(LineRow.id, LineRow.customer_id).where(LineRow.id.in_(line_ids))
        ).all()
        now = self.svc.clock.now()
        emit_many(
            session,
            [
                Event(
                    event_type="lending.default_label",
                    occurred_at=now,
                    source="lending",
                    subject_id=customer_id,
                    payload={
                        "line_id": lid,
                        "customer_id": customer_id,
                        "dpd": DEFAULT_DPD,
                        "label": "default",
                        "business_date": day.isoformat(),
                    },
                )
                for lid, customer_id in owners
            ],
        )

    def delinquency(self, day: date) -> dict[str, int]:
        lines = _LINES
        with self.svc._tx() as session:
            oldest = dict(
                session.execute(
                    select(StatementRow.line_id, func.min(StatementRow.due_date))
                    .where(StatementRow.status == "overdue")
                    .group_by(StatementRow.line_id)
                ).all()
            )
            # Lines no longer overdue go back to current in one statement.
            session.execute(
                update(lines)
                .where(lines.c.dpd > 0, lines.c.id.not_in(list(oldest)) if oldest else true())
                .values(dpd=0, bucket="current")
            )
            if oldest:
                values = [
                    {"lid": lid, "dpd": (day - due).days, "bucket": bucket_for((day - due).days)}
                    for lid, due in oldest.items()
                ]
                session.execute(
                    update(lines)
                    .where(lines.c.id == bindparam("lid"))
                    .values(dpd=bindparam("dpd"), bucket=bindparam("bucket")),
                    values,
                )
                reached = [str(v["lid"]) for v in values if v["dpd"] == DEFAULT_DPD]
                self._default_labels(session, day, reached)
            candidates = list(
                session.execute(
                    select(LineRow).where(
                        LineRow.status.in_(_LIVE),
                        case((LineRow.status == "suspended", True), else_=LineRow.dpd > 0),
                    )
                ).scalars()
            )
        suspended = resumed = charged = 0
        for line in candidates:
            terms = line.terms
            if line.dpd >= int(terms["charge_off_dpd"]):
                charged += self._charge_off(line, day)
            elif line.dpd >= int(terms["suspend_at_dpd"]) and line.status == "active":
                self._floor(line, suspend=True)
                suspended += 1
            elif line.dpd < int(terms["suspend_at_dpd"]) and line.status == "suspended":
                self._floor(line, suspend=False)
                resumed += 1
        return {"overdue": len(oldest), "suspended": suspended, "resumed": resumed,
                "charged_off": charged}  # fmt: skip

    def _floor(self, line: LineRow, *, suspend: bool) -> None:
        bank = self.svc.bank_postings
        bal = bank.balance(LENDING, line.account_id)
        available = bal.available.minor
        # Suspended: nothing more may be drawn, payments still land.
        floor = min(0, available) if suspend else min(-line.limit_minor, available)
        bank.set_floor(LENDING, line.account_id, Money.from_minor(floor, line.currency))
        with self.svc._tx() as session:
            session.execute(
                update(LineRow)
                .where(LineRow.id == line.id)
                .values(status="suspended" if suspend else "active")
            )
            self._audit(session, line, "suspended" if suspend else "resumed", dpd=line.dpd)

    def _charge_off(self, line: LineRow, day: date) -> int:
        owed = line.fees_minor + line.interest_minor + line.revolving_minor + line.cash_minor
        owed += line.purchases_minor + line.instalment_due_minor + line.instalment_minor
        key = f"lending:{line.id}:charge_off:{day.isoformat()}"
        if owed > 0:
            result = self.svc.bank_postings.transfer(
                LENDING, self.svc._internal(InternalAccount.LOAN_LOSS_ALLOWANCE, line.currency),
                line.account_id, Money.from_minor(owed, line.currency), idempotency_key=key,
                description="charge-off against the loan loss allowance",
            )  # fmt: skip
            self.svc._book(line.id, "charge_off", -owed, result.entry_id, key, day=day)
        bank = self.svc.bank_postings
        bank.set_floor(LENDING, line.account_id, Money.zero(line.currency))
        with self.svc._tx() as session:
            session.execute(
                update(LineRow)
                .where(LineRow.id == line.id)
                .values(status="charged_off", accrued_micro=0, over_limit_minor=0)
            )
            session.execute(
                update(InstalmentPlanRow)
                .where(InstalmentPlanRow.line_id == line.id, InstalmentPlanRow.status == "active")
                .values(status="charged_off")
            )
            self._audit(session, line, "charged_off", dpd=line.dpd, owed_minor=owed,
                        business_date=day.isoformat())  # fmt: skip
        return 1

    def _audit(self, session: Session, line: LineRow, outcome: str, **detail: Any) -> None:
        # The close of business decides these for the bank: one audit line each, committed
        # with the line's new status (a resumed day finds the status and decides nothing).
        self.svc.audit.append(
            session, actor=LENDING.id, action="lending.delinquency", subject=line.id,
            outcome=outcome, detail={"customer_id": line.customer_id, **detail},
        )  # fmt: skip

    # -- ledger charges ------------------------------------------------------------------

    def _charge(
        self, line_id: str, account_id: str, kind: str, minor: int, ref: str, day: date
    ) -> bool:
        """Post a fee or interest from the line to the bank's income; the bank's own charges
        may take a line over its limit, and then the line records by how much."""
        with self.svc._tx() as session:
            line = session.get(LineRow, line_id)
            assert line is not None
            currency = line.currency
        code = InternalAccount.FEE_INCOME if kind == "fee" else InternalAccount.INTEREST_INCOME
        key = _charge_key(line_id, kind, ref, day)
        amount = Money.from_minor(minor, currency)
        target = self.svc._internal(code, currency)
        bank = self.svc.bank_postings
        bal = bank.balance(LENDING, account_id)
        if bal.available.minor - minor < bal.floor.minor:
            # Lower the floor first (a refused posting's key stays refused in banking).
            lowered = min(bal.available.minor - minor, 0)
            bank.set_floor(LENDING, account_id, Money.from_minor(lowered, currency))
        result = bank.transfer(
            LENDING, account_id, target, amount, idempotency_key=key,
            description=f"credit line {kind}",
        )  # fmt: skip
        return self.svc._book(line_id, kind, minor, result.entry_id, key, day=day)


def minimum_due(closing: int, billed_charges: int, terms: dict[str, Any], currency: str) -> int:
    """The product's rule: a share of the principal plus the fees and interest billed, at
    least the floor, never more than the closing balance."""
    floor = Money.of(terms["min_payment_floor"], currency).minor
    return _minimum(closing, billed_charges, Decimal(terms["min_payment_pct"]), floor)


def _minimum(closing: int, billed_charges: int, pct: Decimal, floor: int) -> int:
    if closing <= 0:
        return 0
    principal = max(0, closing - billed_charges)
    share = int((principal * pct).to_integral_value(ROUND_HALF_EVEN)) + billed_charges
    return min(closing, max(floor, share))


@dataclass(frozen=True, slots=True)
class _Cycle:
    """What the statement cut needs of a line's terms."""

    statement_day: int
    due_days: int
    min_pct: Decimal
    min_floor: int


@lru_cache(maxsize=256)
def _cycle_terms(terms_json: str, currency: str) -> _Cycle:
    terms = json.loads(terms_json)
    return _Cycle(
        int(terms["statement_day"]),
        int(terms["due_days"]),
        Decimal(terms["min_payment_pct"]),
        Money.of(terms["min_payment_floor"], currency).minor,
    )


def _as_text(column: Any) -> Any:
    """A JSON column read as its text (no per-row decoding by the driver)."""
    return sa_cast(column, Text)


def _charge_key(line_id: str, kind: str, ref: str, day: date) -> str:
    """The idempotency key of the bank's charge ``kind`` on a line for ``ref`` on ``day``."""
    return f"lending:{line_id}:{kind}:{ref}:{day.isoformat()}"


def _statement_id(line_id: str, day: date) -> str:
    # Deterministic: a statement step that runs again cannot cut a second one.
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"finbridge:lending:{line_id}:{day.isoformat()}"))

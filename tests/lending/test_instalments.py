"""Instalments (product everyday@1: fee 0.60% of the principal per period, statement on the
5th, due 20 days later moved to the next PRC workday), with the issue's 12-period example."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import update
from tests.lending.conftest import OPS, World, cny

from finbridge.core.errors import BusinessRuleViolation, Conflict, ValidationError
from finbridge.lending.instalments import schedule
from finbridge.lending.tables import LineRow

PURCHASE_DAY = date(2026, 1, 10)
STATEMENT_1 = date(2026, 2, 5)
DUE_1 = date(2026, 2, 25)


def test_twelve_period_schedule_and_fees_by_hand() -> None:
    # 1,200.00 over 12 periods: 100.00 principal and 0.60% x 1,200.00 = 7.20 fee each period,
    # 86.40 in fees in all; the first period bills on the next statement, then monthly.
    rows, upfront = schedule(120000, 12, Decimal("0.0060"), "per_period", STATEMENT_1, 5, "CNY")
    assert [r[2] for r in rows] == [10000] * 12
    assert [r[3] for r in rows] == [720] * 12
    assert sum(r[3] for r in rows) == 8640 and upfront == 0
    assert rows[0][1] == STATEMENT_1 and rows[-1][1] == date(2027, 1, 5)
    # 1,000.00 does not split evenly: the first period carries the 0.04 left over.
    rows, _ = schedule(100000, 12, Decimal("0.0060"), "per_period", STATEMENT_1, 5, "CNY")
    assert rows[0][2] == 8337 and {r[2] for r in rows[1:]} == {8333}
    assert sum(r[2] for r in rows) == 100000
    # Up front: the whole fee at conversion, none in the periods.
    rows, upfront = schedule(120000, 3, Decimal("0.0060"), "upfront", STATEMENT_1, 5, "CNY")
    assert upfront == 3 * 720 and {r[3] for r in rows} == {0}


def test_purchase_and_statement_in_instalments_bill_per_period_and_settle_early(
    world: World,
) -> None:
    a, b = world.line(), world.line()
    world.on(PURCHASE_DAY)
    pid = world.buy(a, "1200.00")
    world.buy(b, "300.00")
    desk = world.svc.instalments

    quote = desk.quote(OPS, "purchase", pid, 12)
    assert quote.id is None and quote.total_fee == cny("86.40")
    assert quote.schedule[0].total == cny("107.20")
    plan = desk.convert(OPS, "purchase", pid, 12)
    assert plan.status == "active" and plan.remaining == cny("1200.00")
    assert desk.convert(OPS, "purchase", pid, 12).id == plan.id  # a retry: the same plan
    line = world.svc.line(OPS, a.id)
    assert line.buckets["instalment"] == cny("1200.00") and line.buckets["purchases"].minor == 0
    assert line.owed == cny("1200.00")  # converting moves no money

    world.close_until(STATEMENT_1)
    [st] = world.svc.statements(OPS, a.id)
    # Closing is everything owed (it reconciles to the ledger); due is the first period.
    assert st.closing == cny("1207.20") and st.fees == cny("7.20")
    assert st.converted == cny("1100.00") and st.due == cny("107.20")
    assert st.minimum_due == cny("107.20")
    assert world.svc.reconcile(OPS, st.id).reconciled

    # Line b's statement goes into 3 periods before its due date: nothing due on it now.
    [st_b] = world.svc.statements(OPS, b.id)
    world.on(date(2026, 2, 10))
    plan_b = desk.convert(OPS, "statement", st_b.id, 3)
    assert plan_b.principal == cny("300.00") and plan_b.schedule[0].bill_date == date(2026, 3, 5)
    assert world.svc.statement(OPS, st_b.id).status == "paid"

    world.pay(world.svc.line(OPS, a.id), "107.20")
    world.close_until(date(2026, 2, 26))
    assert world.svc.statement(OPS, st.id).status == "paid"
    for x in (a, b):
        done = world.svc.line(OPS, x.id)
        assert done.accrued_interest_minor == 0 and done.dpd == 0  # no interest, not late

    # Early settlement: the 11 unbilled periods' principal, their fees waived (product rule).
    world.on(date(2026, 2, 27))
    settled = desk.settle(OPS, plan.id, idempotency_key="settle-1")
    assert settled.status == "settled" and settled.remaining.minor == 0
    assert desk.settle(OPS, plan.id, idempotency_key="settle-1").status == "settled"
    line = world.svc.line(OPS, a.id)
    assert line.owed.minor == 0 and world.ledger_balance(line).minor == 0

    world.close_until(date(2026, 3, 5))
    st_b2 = world.svc.statements(OPS, b.id)[0]
    assert st_b2.statement_date == date(2026, 3, 5)
    assert st_b2.fees == cny("1.80") and st_b2.due == cny("101.80")  # 100.00 + 0.6% of 300
    assert st_b2.converted == cny("200.00")
    assert world.svc.statements(OPS, a.id)[0].closing.minor == 0  # no fee after settlement


def test_instalment_bad_requests_write_nothing(sqlite_world: World) -> None:
    world = sqlite_world
    line = world.line()
    world.on(PURCHASE_DAY)
    pid = world.buy(line, "600.00")
    desk = world.svc.instalments
    with pytest.raises(ValidationError, match="periods must be one of 3, 6, 9, 12"):
        desk.convert(OPS, "purchase", pid, 4)
    desk.convert(OPS, "purchase", pid, 6)
    with pytest.raises(Conflict, match="already in a 6-period plan"):
        desk.convert(OPS, "purchase", pid, 3)
    # A refund takes unbilled principal off the last periods (600.00 = 6 x 100.00).
    world.svc.refund(OPS, pid, cny("150.00"), idempotency_key="r1")
    [plan] = desk.plans(OPS, line.id)
    assert [p.principal.minor for p in plan.schedule] == [10000] * 4 + [5000, 0]
    assert plan.schedule[-1].status == "refunded" and plan.schedule[-1].fee.minor == 0
    assert world.svc.line(OPS, line.id).buckets["instalment"] == cny("450.00")
    with pytest.raises(ValidationError, match="unbilled in its instalment plan"):
        world.svc.refund(OPS, pid, cny("450.01"), idempotency_key="r2")
    other = world.buy(line, "100.00")
    with world.engine.begin() as conn:
        conn.execute(update(LineRow).where(LineRow.id == line.id).values(dpd=35, bucket="M2"))
    with pytest.raises(BusinessRuleViolation, match="delinquent"):
        desk.convert(OPS, "purchase", other, 3)
    assert len(desk.plans(OPS, line.id)) == 1
    assert world.svc.line(OPS, line.id).buckets["purchases"] == cny("100.00")

"""The issue's worked examples, checked by hand (product everyday@1: 0.05% a day, statement on
the 5th, due 20 days later moved to the next PRC workday, late fee 30.00)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from tests.lending.conftest import OPS, World, cny

from finbridge.identity import AuditLog
from finbridge.lending import due_date_for

PURCHASE_DAY = date(2026, 1, 10)
STATEMENT_1 = date(2026, 2, 5)


def _first_statement(world: World) -> tuple[str, date]:
    line = world.line()
    world.on(PURCHASE_DAY)
    world.buy(line, "100.00")
    world.close_until(STATEMENT_1)
    [st] = world.svc.statements(OPS, line.id)
    assert st.statement_date == STATEMENT_1
    assert st.purchases == cny("100.00")
    assert st.closing == cny("100.00")
    # 10% of principal is 10.00, below the 50.00 floor.
    assert st.minimum_due == cny("50.00")
    return line.id, st.due_date


def test_due_date_moves_past_the_spring_festival() -> None:
    # 5 Feb + 20 days = 25 Feb 2026, a workday after the Spring Festival holiday (15-23 Feb).
    assert due_date_for(STATEMENT_1, 20) == date(2026, 2, 25)
    # 1 Oct 2026 is National Day: a due date on it moves past the 1-7 Oct holiday.
    assert due_date_for(date(2026, 9, 11), 20) == date(2026, 10, 8)


def test_paid_in_full_by_the_due_date_pays_no_interest(world: World) -> None:
    line_id, due = _first_statement(world)
    line = world.svc.line(OPS, line_id)
    world.on(due)
    world.pay(line, "100.00")
    world.close_until(date(2026, 3, 5))
    latest = world.svc.statements(OPS, line_id)[0]
    assert latest.statement_date == date(2026, 3, 5)
    assert latest.interest == cny("0.00")
    assert latest.fees == cny("0.00")
    assert latest.closing == cny("0.00")
    assert world.svc.line(OPS, line_id).dpd == 0


def test_paid_one_day_late_pays_interest_from_the_purchase_date(world: World) -> None:
    line_id, due = _first_statement(world)
    line = world.svc.line(OPS, line_id)
    world.close_until(due)  # the due date ends unpaid: grace lost, late fee
    st = world.svc.statements(OPS, line_id)[0]
    assert st.status == "overdue"
    world.on(due + timedelta(days=1))
    world.pay(line, "130.00")  # the statement and the late fee
    world.close_until(date(2026, 3, 5))
    latest = world.svc.statements(OPS, line_id)[0]
    days = (due - PURCHASE_DAY).days + 1  # 10 Jan .. 25 Feb inclusive = 47 days
    assert days == 47
    # 100.00 x 0.0005 x 47 = 2.35, by hand.
    assert latest.interest == cny("2.35")
    assert latest.fees == cny("30.00")
    assert latest.payments == cny("130.00")
    assert latest.closing == cny("2.35")
    assert world.ledger_balance(line) == cny("-2.35")


@pytest.mark.slow  # 200 COB days
def test_m1_to_m3_to_charge_off_and_recovery(world: World) -> None:
    audit = AuditLog(world.engine, world.clock, b"k" * 32)
    world.svc.audit = audit  # the bank's audit chain, as the platform wires it
    line_id, due = _first_statement(world)
    line = world.svc.line(OPS, line_id)
    world.close_until(due + timedelta(days=1))
    assert (world.svc.line(OPS, line_id).dpd, world.svc.line(OPS, line_id).bucket) == (1, "M1")
    world.close_until(due + timedelta(days=31))
    now = world.svc.line(OPS, line_id)
    assert (now.dpd, now.bucket, now.status) == (31, "M2", "suspended")
    world.close_until(due + timedelta(days=61))
    assert world.svc.line(OPS, line_id).bucket == "M3"
    owed_before = world.svc.line(OPS, line_id).owed
    assert owed_before > cny("100.00")  # purchase, late fees and interest
    world.close_until(due + timedelta(days=180))
    gone = world.svc.line(OPS, line_id)
    assert gone.status == "charged_off"
    assert gone.owed == cny("0.00")
    assert world.ledger_balance(line) == cny("0.00")
    allowance = world.banking.internal_account_id("loan_loss_allowance", "CNY")
    assert world.banking.balance(OPS, allowance).balance == -gone.charged_off
    # Each decision of the bank's day is a line in the audit chain, once.
    decided = [(e.action, e.outcome) for e in audit.entries(subject=line_id)]  # newest first
    assert decided == [("lending.delinquency", "charged_off"), ("lending.delinquency", "suspended")]
    assert audit.verify().ok
    # A recovery: the customer pays after the charge-off; the allowance gets it back.
    world.on(due + timedelta(days=200))
    after = world.pay(line, "40.00")
    assert after.recovered == cny("40.00")
    assert world.banking.balance(OPS, allowance).balance == -gone.charged_off + cny("40.00")

"""Random purchases, refunds, cash, payments, instalment conversions and early settlements and
business days against a simple model:
statements reconcile to the ledger to the cent, nothing is lost or doubled, the available
limit is never negative unless the bank's own charges are recorded as over-limit, money is
conserved, and a line whose statements are all paid in full by their due dates and that never
borrowed cash pays no interest."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from tests.lending.conftest import OPS, World

from finbridge.core.errors import (
    BusinessRuleViolation,
    Conflict,
    InsufficientFunds,
    ValidationError,
)
from finbridge.core.money import Money
from finbridge.lending.tables import ActivityRow
from finbridge.store import unit_of_work

amounts = st.integers(min_value=1, max_value=900_00)  # minor units, up to 900.00
ops = st.lists(
    st.one_of(
        st.tuples(st.just("buy"), amounts),
        st.tuples(st.just("refund"), st.integers(1, 100)),  # percent of the last purchase
        st.tuples(st.just("cash"), amounts),
        st.tuples(st.just("pay"), amounts),
        st.tuples(st.just("days"), st.integers(1, 12)),
        st.tuples(st.just("convert"), st.sampled_from([3, 6, 9, 12])),  # the last purchase
        st.tuples(st.just("settle"), st.just(0)),  # the newest plan, early
    ),
    min_size=1,
    max_size=14,
)


def _activity_sum(world: World, line_id: str, kinds: tuple[str, ...]) -> int:
    with unit_of_work(world.engine) as s:
        total = s.execute(
            select(func.coalesce(func.sum(ActivityRow.amount_minor), 0)).where(
                ActivityRow.line_id == line_id, ActivityRow.kind.in_(kinds)
            )
        ).scalar_one()
    return int(total)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(script=ops, pay_in_full=st.booleans())
def test_random_line_histories(sqlite_world: World, script: list[tuple[str, int]],
                               pay_in_full: bool) -> None:  # fmt: skip
    world = sqlite_world
    status = world.cob.status(OPS)
    day = (status.last_done + timedelta(days=1)) if status.last_done else world.svc.today()
    world.on(day)
    line = world.line(funds="50000.00")
    model = 0  # purchases - refunds + cash - payments, in minor units
    last_purchase: tuple[str, int] | None = None
    used_cash = False
    for op, value in script:
        try:
            if op == "buy":
                pid = world.buy(line, str(Money.from_minor(value, "CNY").amount))
                model += value
                last_purchase = (pid, value)
            elif op == "refund" and last_purchase is not None:
                pid, amount = last_purchase
                refund = max(1, amount * value // 100)
                world.svc.refund(OPS, pid, Money.from_minor(refund, "CNY"),
                                 idempotency_key=f"r-{pid}-{value}")  # fmt: skip
                model -= refund
                last_purchase = (pid, amount - refund) if amount - refund > 0 else None
            elif op == "cash" and not pay_in_full:
                world.svc.borrow_cash(OPS, line.id, Money.from_minor(value, "CNY"),
                                      idempotency_key=f"c-{day}-{value}-{model}")  # fmt: skip
                model += value
                used_cash = True
            elif op == "pay" and not pay_in_full:
                world.svc.repay(OPS, line.id, Money.from_minor(value, "CNY"),
                                idempotency_key=f"p-{day}-{value}-{model}")  # fmt: skip
                model -= value
            elif op == "convert" and last_purchase is not None:
                world.svc.instalments.convert(OPS, "purchase", last_purchase[0], value)
            elif op == "settle":
                plans = [p for p in world.svc.instalments.plans(OPS, line.id)
                         if p.status == "active"]  # fmt: skip
                if plans:
                    left = plans[0].remaining
                    world.svc.instalments.settle(OPS, plans[0].id, idempotency_key=f"s-{day}")
                    model -= left.minor
            elif op == "days":
                for _ in range(value):
                    world.close_until(day)
                    day += timedelta(days=1)
                    world.on(day)
                    if pay_in_full:
                        for s in world.svc.statements(OPS, line.id):
                            due = s.due - s.paid  # unbilled instalments are not due
                            if s.due_date == day and due.is_positive():
                                world.pay(line, str(due.amount))
                                model -= due.minor
        except (InsufficientFunds, ValidationError, BusinessRuleViolation, Conflict):
            pass  # refused as a whole: the model does not move either
        now = world.svc.line(OPS, line.id)
        ledger = world.ledger_balance(line)
        charges = _activity_sum(world, line.id, ("interest", "fee"))
        # Nothing lost or doubled: the ledger is the model plus the bank's charges.
        assert ledger == Money.from_minor(-(model + charges), "CNY")
        assert ledger == now.credit_balance - now.owed
        # The available limit is never negative by a customer's action.
        bal = world.banking.balance(OPS, line.account_id)
        assert bal.available >= bal.floor
        if now.over_limit.is_zero():
            assert now.owed <= now.limit
    world.close_until(day)
    for s in world.svc.statements(OPS, line.id):
        assert world.svc.reconcile(OPS, s.id).reconciled
    if pay_in_full and not used_cash:
        assert _activity_sum(world, line.id, ("interest",)) == 0
    report = world.banking.verify_ledger(OPS)
    assert report.ok, report

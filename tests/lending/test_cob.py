"""The close-of-business runner: order, catch-up, refusals, crash-and-resume without double
posting, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from tests.lending.conftest import OPS, World, cny

from finbridge.core import Principal
from finbridge.core.errors import Conflict, PermissionDenied, ValidationError
from finbridge.core.money import Money
from finbridge.lending import CobRunner, FunctionStep, LendingDay
from finbridge.lending.cob import _steps
from finbridge.lending.tables import AccrualRow, ActivityRow, StatementRow
from finbridge.store import unit_of_work

OPENED = date(2026, 1, 6)


def _busy_world(world: World, lines: int = 3) -> list[str]:
    ids = []
    for n in range(lines):
        line = world.line()
        world.on(OPENED + timedelta(days=2))
        world.buy(line, f"{100 + n}.00")
        world.svc.borrow_cash(OPS, line.id, cny("50.00"), idempotency_key=f"cash-{n}")
        ids.append(line.id)
    return ids


def test_missed_days_are_caught_up_in_order(world: World) -> None:
    _busy_world(world, 1)
    seen: list[date] = []
    world.cob.steps = (*world.cob.steps, FunctionStep("probe", lambda d: seen.append(d) or {}))
    closed = world.close_until(OPENED + timedelta(days=9))
    assert closed == [OPENED + timedelta(days=k) for k in range(10)]
    assert seen == closed
    status = world.cob.status(OPS)
    assert status.last_done == OPENED + timedelta(days=9)
    assert status.running is None
    assert [s.step for s in status.recent[0].steps] == [s.name for s in world.cob.steps]
    # Running again is a no-op. The cash was borrowed on the 8th, before the 6th and 7th were
    # closed: those days bear no interest (the late COB takes later activity off the balance),
    # and the 8th..15th are accrued exactly once each.
    assert world.close_until(OPENED + timedelta(days=9)) == []
    with unit_of_work(world.engine) as s:
        days = s.execute(select(AccrualRow.business_date).order_by(AccrualRow.business_date))
        assert list(days.scalars()) == [OPENED + timedelta(days=k) for k in range(2, 10)]
        assert s.execute(select(func.sum(AccrualRow.micro))).scalar() == 8 * 5000 * 500


def test_a_date_before_the_last_one_and_an_unfinished_day_are_refused(world: World) -> None:
    _busy_world(world, 1)
    world.close_until(OPENED + timedelta(days=3))
    with pytest.raises(ValidationError, match="already ran") as exc:
        world.cob.run(OPS, until=OPENED + timedelta(days=1))
    assert exc.value.field == "until"
    world.on(OPENED + timedelta(days=5))
    with pytest.raises(ValidationError, match="not over yet"):
        world.cob.run(OPS, until=OPENED + timedelta(days=5))


def test_cob_needs_its_scope(world: World) -> None:
    teller = Principal.operator("t", [])
    with pytest.raises(PermissionDenied):
        world.cob.run(teller, until=OPENED)


class _Crash(RuntimeError):
    pass


def _totals(world: World, ids: list[str]) -> dict[str, Any]:
    with unit_of_work(world.engine) as s:
        statements = s.execute(select(func.count()).select_from(StatementRow)).scalar()
        interest = s.execute(
            select(func.count(), func.sum(ActivityRow.amount_minor)).where(
                ActivityRow.kind == "interest"
            )
        ).one()
    income = world.banking.internal_account_id("interest_income", "CNY")
    return {
        "statements": statements,
        "interest_rows": interest[0],
        "interest_minor": int(interest[1] or 0),
        "income": world.banking.balance(OPS, income).balance,
        "owed": [world.svc.line(OPS, i).owed for i in ids],
        "ledger": [world.ledger_balance(world.svc.line(OPS, i)) for i in ids],
    }


def test_a_cob_killed_half_way_finishes_with_the_same_result(world: World) -> None:
    ids = _busy_world(world)
    statement_day = date(2026, 2, 5)
    world.close_until(statement_day - timedelta(days=1))
    # Kill the statement step right after the interest entry is on the ledger and before
    # lending has booked it: the retry must find the entry (same key), not post it again.
    bank = world.svc.bank_postings
    real = bank.post_charges

    def dying(*args: Any, **kw: Any) -> Any:
        real(*args, **kw)
        raise _Crash("kill -9")

    bank.post_charges = dying  # type: ignore[method-assign]
    with pytest.raises(_Crash):
        world.close_until(statement_day)
    bank.post_charges = real  # type: ignore[method-assign]
    assert world.cob.status(OPS).running == statement_day
    world.close_until(statement_day)
    after = _totals(world, ids)
    assert after["statements"] == len(ids)
    assert after["interest_rows"] == len(ids)
    assert after["interest_minor"] > 0
    assert after["income"] == Money.from_minor(after["interest_minor"], "CNY")
    for owed, ledger in zip(after["owed"], after["ledger"], strict=True):
        assert ledger == -owed
    # Every statement reconciles to the ledger to the cent.
    for line_id in ids:
        for st in world.svc.statements(OPS, line_id):
            rec = world.svc.reconcile(OPS, st.id)
            assert rec.reconciled, rec


def test_the_month_end_in_small_batches_bills_and_cuts_every_line_once(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches of 2 lines over 5: a kill after the first batch of statements is committed
    resumes with the lines left; every line is billed and cut exactly once, reconciled."""
    monkeypatch.setattr(_steps, "BATCH", 2)
    ids = _busy_world(world, 5)
    statement_day = date(2026, 2, 5)
    world.close_until(statement_day - timedelta(days=1))
    day = LendingDay(world.svc)
    real = day._cut_chunk
    calls: list[int] = []

    def dying(d: date) -> tuple[int, int]:
        calls.append(1)
        if len(calls) == 2:
            raise _Crash("kill -9")
        return real(d)

    monkeypatch.setattr(day, "_cut_chunk", dying)
    with pytest.raises(_Crash):
        day.close_statements(statement_day)
    with unit_of_work(world.engine) as s:
        assert s.execute(select(func.count()).select_from(StatementRow)).scalar() == 2
    monkeypatch.setattr(day, "_cut_chunk", real)
    assert day.close_statements(statement_day)["statements"] == 3
    world.close_until(statement_day)  # the runner's own statements step finds nothing left
    after = _totals(world, ids)
    assert after["statements"] == 5 and after["interest_rows"] == 5
    assert after["income"] == Money.from_minor(after["interest_minor"], "CNY")
    for line_id in ids:
        (st,) = world.svc.statements(OPS, line_id)
        assert world.svc.reconcile(OPS, st.id).reconciled


def test_stop_after_a_step_resumes_at_the_next(world: World) -> None:
    _busy_world(world, 1)
    runs: list[str] = []
    steps = [FunctionStep(n, lambda d, n=n: runs.append(n) or {}) for n in ("a", "b", "c")]
    runner = CobRunner(world.engine, world.clock, steps, first_date=world.svc.first_opened)
    world.on(OPENED + timedelta(days=1))
    assert runner.run(OPS, until=OPENED, stop_after="b") == []
    assert runner.run(OPS, until=OPENED) == [OPENED]
    assert runs == ["a", "b", "c"]


def test_one_cob_at_a_time(world: World) -> None:
    _busy_world(world, 1)
    inner: list[Exception] = []

    def nested(day: date) -> dict[str, Any]:
        try:
            world.cob.run(OPS, until=day)
        except Conflict as exc:
            inner.append(exc)
        return {}

    world.cob.steps = (FunctionStep("nested", nested),)
    world.close_until(OPENED)
    assert len(inner) == 1


def test_a_fresh_bank_starts_at_yesterday_not_an_epoch(world: World) -> None:
    # No line and no day closed: the first run closes yesterday only.
    world.on(OPENED)
    assert world.cob.plan() == [OPENED - timedelta(days=1)]
    assert world.cob.run(OPS, max_days=1) == [OPENED - timedelta(days=1)]


def test_a_bounded_run_refuses_a_long_catch_up_naming_until(world: World) -> None:
    """What the API does: a run longer than ``max_days`` is refused before any day is closed,
    pointing the operator to the CLI; within the bound it runs."""
    _busy_world(world, 1)
    world.on(OPENED + timedelta(days=40))
    with pytest.raises(ValidationError) as exc:
        world.cob.run(OPS, max_days=31)
    assert exc.value.field == "until"
    assert "40 days" in str(exc.value) and "finbridge cob run --until" in str(exc.value)
    assert world.cob.status(OPS).last_done is None  # nothing half-done
    closed = world.cob.run(OPS, until=OPENED + timedelta(days=30), max_days=31)
    assert len(closed) == 31
    assert world.cob.run(OPS, max_days=31) == [OPENED + timedelta(days=k) for k in range(31, 40)]


def test_status_times_are_aware_utc(world: World) -> None:
    # SQLite hands the stored times back naive; the API's schema says date-time with offset.
    world.close_until(OPENED)
    (day,) = world.cob.status(OPS).recent
    assert day.started_at.utcoffset() == timedelta(0)
    assert day.finished_at is not None and day.finished_at.utcoffset() == timedelta(0)
    assert all(s.started_at.utcoffset() == timedelta(0) for s in day.steps)

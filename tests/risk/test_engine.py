"""Decisions end to end on SQLite and PostgreSQL: storage, events, lists, degraded modes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from finbridge.core import ManualClock, Principal
from finbridge.core.errors import Conflict, PermissionDenied, ValidationError
from finbridge.core.settings import RiskSettings
from finbridge.lake.tables import OutboxRow
from finbridge.risk import RiskService
from finbridge.risk.decisions import (
    DecisionMaker,
    DecisionOptions,
    InProcessVelocity,
    VelocityConfig,
    default_config,
)
from finbridge.risk.rules import Band, RuleSetSpec, RuleSpec
from finbridge.risk.store import RedisVelocity
from finbridge.risk.tables import CaseRow, DecisionRow
from finbridge.store import unit_of_work

from .conftest import make_maker, payment, tick


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)  # SQLite reads back naive


def test_decision_is_stored_and_emitted(risk: DecisionMaker, system: Principal, clock) -> None:
    occurred = clock.now() - timedelta(seconds=30)  # so occurred_at and decided_at differ
    d = risk.decide(system, payment(clock, event_id="evt-1", occurred_at=occurred.isoformat()))
    assert d.outcome == "approve" and d.reasons == ("no risk signal fired",)
    assert d.rule_set == "baseline@v0" and d.model_version == "none"
    with unit_of_work(risk.engine, write=False) as s:
        row = s.scalars(select(DecisionRow)).one()
        event = s.scalars(select(OutboxRow).where(OutboxRow.event_type == "risk.decision")).one()
    # Every column where the maker's positional row (DECISION_COLUMNS order) says it belongs.
    assert (row.id, row.event_id, row.mode, row.event_type, row.customer_id) == (
        d.decision_id,
        "evt-1",
        "live",
        "payment",
        "cust-1",
    )
    assert (_utc(row.occurred_at), _utc(row.decided_at)) == (occurred, clock.now())
    assert (row.outcome, row.score, row.ml_score, row.amount_minor, row.currency) == (
        "approve",
        d.score,
        None,
        12050,
        "CNY",
    )
    assert (row.rule_set, row.model_version, row.fired, row.reasons, row.degraded) == (
        "baseline@v0",
        "none",
        [],
        ["no risk signal fired"],
        None,
    )
    assert row.request is not None and row.request["event_id"] == "evt-1"
    assert event.payload["outcome"] == "approve" and event.payload["amount"] == "120.50"
    # Idempotent: the same event id returns the stored decision and changes nothing.
    again = risk.decide(system, payment(clock, event_id="evt-1", amount="999999"))
    assert again.decision_id == d.decision_id


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"amount": 12.5}, "amount"),  # a float amount is refused
        ({"amount": None}, "amount"),  # a payment needs an amount
        ({"customer_id": None}, "customer_id"),
        ({"occurred_at": "2026-11-02T01:30:00"}, "occurred_at"),  # naive time
        ({"occurred_at": "yesterday"}, "occurred_at"),
        ({"event_type": "teleport"}, "event_type"),
        ({"merchant_id": None}, "merchant_id"),
        ({"currency": "XXX"}, "currency"),
        ({"amount": "-5"}, "amount"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_events_get_a_clear_error(
    sqlite_risk: DecisionMaker, system: Principal, clock, change: dict, field: str
) -> None:
    body = payment(clock)
    for k, v in change.items():
        if v is None:
            body.pop(k)
        else:
            body[k] = v
    with pytest.raises(ValidationError) as err:
        sqlite_risk.decide(system, body)
    assert err.value.field == field


def test_clock_out_of_order_policy(sqlite_risk: DecisionMaker, system: Principal, clock) -> None:
    sqlite_risk.decide(system, payment(clock))
    late = payment(clock, occurred_at=(clock.now() - timedelta(minutes=3)).isoformat())
    assert sqlite_risk.decide(system, late).outcome == "approve"  # within lateness: clamped
    too_late = payment(clock, occurred_at=(clock.now() - timedelta(hours=2)).isoformat())
    with pytest.raises(ValidationError, match="older than the latest customer event"):
        sqlite_risk.decide(system, too_late)
    future = payment(clock, occurred_at=(clock.now() + timedelta(hours=1)).isoformat())
    with pytest.raises(ValidationError, match="in the future"):
        sqlite_risk.decide(system, future)


def test_velocity_rules_fire_and_review_opens_a_case(
    risk: DecisionMaker, system: Principal, clock
) -> None:
    outcomes = []
    for _ in range(7):
        outcomes.append(risk.decide(system, payment(clock)))
        tick(clock, 2)
    last = outcomes[-1]
    assert "burst_1m" in last.fired and last.outcome == "review"
    assert last.reasons[0] == "more than 5 events in a minute"
    with unit_of_work(risk.engine, write=False) as s:
        case = s.scalars(select(CaseRow).where(CaseRow.decision_id == last.decision_id)).one()
        row = s.scalars(select(DecisionRow).where(DecisionRow.id == last.decision_id)).one()
    assert (case.id, case.event_id, case.customer_id, case.status, case.assignee) == (
        last.case_id,
        last.event_id,
        "cust-1",
        "open",
        None,
    )
    assert case.priority in (1, 2) and _utc(case.opened_at) == clock.now() - timedelta(seconds=2)
    assert _utc(case.sla_due_at) > _utc(case.opened_at)
    assert (row.outcome, row.score, row.fired, row.reasons) == (
        "review",
        last.score,
        list(last.fired),
        list(last.reasons),
    )


def test_lists_block_watch_allow_with_expiry(
    sqlite_risk: DecisionMaker, system: Principal, analyst: Principal, clock: ManualClock
) -> None:
    lists = sqlite_risk.lists
    lists.add(
        analyst,
        list_kind="watch",
        entity_type="ip",
        value="10.0.0.1",
        reason="proxy range",
        source="feed:abuseipdb",
    )
    d = sqlite_risk.decide(system, payment(clock))
    assert d.outcome == "review" and "watchlisted" in d.fired
    assert any("ip on watch list: proxy range (source: feed:abuseipdb)" in r for r in d.reasons)
    lists.add(
        analyst,
        list_kind="allow",
        entity_type="customer",
        value="cust-1",
        reason="VIP verified",
        source="case:42",
    )
    tick(clock)
    assert sqlite_risk.decide(system, payment(clock)).outcome == "approve"
    lists.add(
        analyst,
        list_kind="block",
        entity_type="device",
        value="dev-1",
        reason="malware",
        source="case:43",
        expires_at=clock.now() + timedelta(hours=1),
    )
    tick(clock)
    d = sqlite_risk.decide(system, payment(clock))
    assert d.outcome == "decline" and "device on block list: malware (source: case:43)" in d.reasons
    clock.advance(timedelta(hours=2))  # the block expired
    assert sqlite_risk.decide(system, payment(clock)).outcome == "approve"
    with pytest.raises(ValidationError, match="provenance"):
        lists.add(
            analyst, list_kind="block", entity_type="ip", value="1.2.3.4", reason="x", source=" "
        )
    with pytest.raises(PermissionDenied):
        lists.add(
            Principal.customer("cust-1"),
            list_kind="allow",
            entity_type="customer",
            value="cust-1",
            reason="me",
            source="me",
        )


def test_redis_down_gives_the_configured_safe_decision(
    sqlite_engine, clock: ManualClock, system: Principal
) -> None:
    dead = RedisVelocity(default_config(), url="redis://127.0.0.1:1/0", timeout_s=0.1)
    risk = make_maker(sqlite_engine, clock, dead, options=DecisionOptions(safe_outcome="review"))
    d = risk.decide(system, payment(clock))
    assert d.outcome == "review" and d.degraded
    assert (
        "safe decision 'review' by policy: velocity store (Redis) did not answer" in d.reasons[-1]
    )
    with unit_of_work(sqlite_engine, write=False) as s:
        assert s.scalars(select(DecisionRow.degraded)).one()


def test_flood_from_one_entity_is_declined(
    sqlite_engine, clock: ManualClock, system: Principal
) -> None:
    cfg = VelocityConfig(default_config().entities, max_events_per_entity=20)
    risk = make_maker(sqlite_engine, clock, InProcessVelocity(cfg))
    for i in range(20):
        risk.decide(
            system,
            payment(
                clock, customer_id=f"c{i}", device_id="bot", ip=f"10.1.0.{i}", merchant_id=f"m{i}"
            ),
        )
    d = risk.decide(system, payment(clock, customer_id="c99", device_id="bot", merchant_id="m"))
    assert d.outcome == "decline" and "flood from one entity" in d.reasons[-1]
    other = payment(clock, customer_id="c100", device_id="ok", ip="10.2.0.1", merchant_id="m")
    assert risk.decide(system, other).outcome == "approve"


def test_promotion_and_shadow_without_restart(
    risk: DecisionMaker, system: Principal, analyst: Principal, clock
) -> None:
    strict = RuleSetSpec(
        "strict",
        (RuleSpec("any_amount", "amount > 100", 50, "amount over 100"),),
        (Band(40, "review"),),
    )
    stored = risk.rule_sets.save_draft(analyst, strict)
    risk.rule_sets.promote(analyst, stored.id, mode="shadow")
    d = risk.decide(system, payment(clock))
    assert d.outcome == "approve" and d.shadow is not None and d.shadow.outcome == "review"
    with unit_of_work(risk.engine, write=False) as s:
        modes = sorted(s.scalars(select(DecisionRow.mode)).all())
    assert modes == ["live", "shadow"]
    risk.rule_sets.promote(analyst, stored.id, mode="live")
    tick(clock)
    d = risk.decide(system, payment(clock))
    assert d.outcome == "review" and d.rule_set == "strict@v1" and d.shadow is None
    with unit_of_work(risk.engine, write=False) as s:
        promoted = s.scalars(
            select(OutboxRow).where(OutboxRow.event_type == "risk.rule_set_promoted")
        ).all()
    assert [e.payload["mode"] for e in promoted] == ["shadow", "live"]
    assert promoted[-1].payload["promoted_by"] == "ana"


def test_customer_cannot_ask_for_decisions(risk: DecisionMaker, clock) -> None:
    with pytest.raises(PermissionDenied, match="risk:decide"):
        risk.decide(Principal.customer("cust-1"), payment(clock))


def test_every_event_type_is_decided(sqlite_risk: DecisionMaker, system: Principal, clock) -> None:
    bodies = [
        {"event_type": "login", "device_id": "d1"},
        {"event_type": "transfer", "amount": "10", "payee_id": "p1"},
        {"event_type": "withdrawal", "amount": "10"},
        {"event_type": "credit_application", "amount": "50000"},
        {"event_type": "profile_change", "changed_field": "phone"},
    ]
    for b in bodies:
        d = sqlite_risk.decide(
            system, {"customer_id": "c", "occurred_at": clock.now().isoformat(), **b}
        )
        assert d.outcome == "approve" and d.event_type == b["event_type"]


@pytest.mark.parametrize("in_process", [True, False], ids=["writer-thread", "writer-process"])
def test_group_commit_stores_every_concurrent_decision_once(
    engine, clock: ManualClock, system: Principal, in_process: bool
) -> None:
    import threading

    sqlite_engine = engine  # both databases; the writer process opens its own connection
    risk = make_maker(sqlite_engine, clock, group_commit=True, writer_process=not in_process)
    results: list[str] = []

    def work(k: int) -> None:
        for i in range(25):
            # Every event id is sent twice (a client retry racing the original).
            d = risk.decide(system, payment(clock, event_id=f"e{k}-{i % 13}", customer_id=f"c{k}"))
            results.append(d.decision_id)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    risk.close()
    with unit_of_work(sqlite_engine, write=False) as s:
        stored = s.scalars(select(DecisionRow.id)).all()
        kind = OutboxRow.event_type == "risk.decision"
        events = s.scalars(select(OutboxRow.event_id).where(kind)).all()
        assert len(events) == len(stored) == 4 * 13
    assert set(results) == set(stored)


class _Fixed:
    """A stand-in scorer with a fixed score (the real LightGBM model is tested elsewhere)."""

    def __init__(self, version: str, value: float) -> None:
        self.version, self.value = version, value

    def score(self, features) -> float:
        return self.value


def test_shadow_model_then_one_step_promotion(
    sqlite_engine, clock: ManualClock, system: Principal, analyst: Principal
) -> None:
    maker = make_maker(sqlite_engine, clock, model=_Fixed("m1", 0.1))
    risk = RiskService(sqlite_engine, clock, RiskSettings(), decisions=maker)
    maker.set_shadow_model(_Fixed("m2", 0.9))
    d = risk.decide(system, payment(clock))
    assert d.outcome == "approve" and d.model_version == "m1" and d.ml_score == 0.1
    assert d.shadow is not None and d.shadow.model_version == "m2"
    assert d.shadow.outcome == "step_up" and "ml_high" in d.shadow.fired  # not enforced
    with unit_of_work(sqlite_engine, write=False) as s:
        rows = {r.mode: (r.model_version, r.ml_score) for r in s.scalars(select(DecisionRow))}
    assert rows == {"live": ("m1", 0.1), "shadow": ("m2", 0.9)}

    with pytest.raises(PermissionDenied):
        risk.promote_shadow_model(Principal.customer("cust-1"))
    assert risk.promote_shadow_model(analyst) == "m2"
    tick(clock)
    d = risk.decide(system, payment(clock))
    assert d.model_version == "m2" and d.outcome == "step_up" and d.shadow is None
    with unit_of_work(sqlite_engine, write=False) as s:
        event = s.scalars(
            select(OutboxRow).where(OutboxRow.event_type == "risk.model_promoted")
        ).one()
    assert event.payload == {"version": "m2", "previous": "m1", "promoted_by": "ana"}
    with pytest.raises(Conflict, match="no shadow model"):
        risk.promote_shadow_model(analyst)


def test_terminal_risk_table_learns_from_case_labels_after_the_delay(
    sqlite_engine, clock: ManualClock, system: Principal, analyst: Principal
) -> None:
    from finbridge.risk.cases import CaseService
    from finbridge.risk.decisions import TerminalRiskTable, parse_request

    risk = make_maker(sqlite_engine, clock)
    risk.lists.add(analyst, list_kind="watch", entity_type="terminal", value="t-9",
                   reason="probe", source="test")  # fmt: skip
    decided = [risk.decide(system, payment(clock, terminal_id="t-9", merchant_id=None))]
    decided.append(risk.decide(system, payment(clock, terminal_id="t-9", merchant_id=None)))
    CaseService(sqlite_engine, clock).close(analyst, decided[0].case_id, "confirm")
    table = TerminalRiskTable(sqlite_engine, clock)
    req = parse_request(payment(clock, terminal_id="t-9", merchant_id=None))
    assert table.lookup(req) == {}  # labels younger than the 7-day delay are not used
    clock.advance(timedelta(days=8))
    table.rebuild()
    feats = table.lookup(req)
    assert feats["terminal_delayed_count_7d"] == 2 and feats["terminal_delayed_risk_7d"] == 0.5


def test_a_dead_writer_process_fails_decisions_fast(
    sqlite_engine, clock: ManualClock, system: Principal
) -> None:
    import asyncio
    import os
    import signal
    import time

    from finbridge.core.errors import ServiceUnavailable

    risk = make_maker(sqlite_engine, clock, group_commit=True, writer_process=True)
    try:
        first = asyncio.run(risk.decide_async(system, payment(clock, event_id="w-1")))
        assert first.outcome == "approve"
        pid = risk.store._process.pid  # type: ignore[attr-defined]
        assert pid is not None and pid != os.getpid()
        os.kill(pid, signal.SIGKILL)
        started = time.monotonic()
        with pytest.raises(ServiceUnavailable, match="writer process"):
            risk.decide(system, payment(clock, event_id="w-2"))
        assert time.monotonic() - started < 5
    finally:
        risk.close()
    with unit_of_work(sqlite_engine, write=False) as s:
        assert s.scalars(select(DecisionRow.event_id)).all() == ["w-1"]

"""The decision store's driver-level insert stores exactly what SQLAlchemy Core would."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert, text

from finbridge.lake import Event, emit_many
from finbridge.risk.decisions._port import CASE_COLUMNS, DECISION_COLUMNS, Writes
from finbridge.risk.store import write_bundles
from finbridge.risk.store._process import pack, unpack
from finbridge.risk.store._sql import CASES, DECISIONS
from finbridge.store.engine import unit_of_work

TABLES = ("risk_decisions", "risk_cases", "lake_outbox")


def _rows() -> tuple[list[dict[str, Any]], list[dict[str, Any]], Event]:
    at = datetime(2026, 12, 7, 5, 0, 0, 123456, tzinfo=UTC)
    live = {
        "id": "d-1", "event_id": "e-1", "mode": "live", "event_type": "payment",
        "customer_id": "c-1", "occurred_at": at - timedelta(seconds=3), "decided_at": at,
        "outcome": "review", "score": 61.5, "ml_score": 0.25, "amount_minor": 12345,
        "currency": "EUR", "rule_set": "rs v1", "model_version": "m1", "fired": ["big"],
        "reasons": ["amount é"], "degraded": None, "request": {"a": 1, "event_id": "e-1"},
    }  # fmt: skip
    # A shadow row: NULL-able JSON (request) and float (ml_score) columns given None.
    shadow = {**live, "id": "d-2", "mode": "shadow", "ml_score": None, "request": None}
    case = {
        "id": "k-1", "decision_id": "d-1", "event_id": "e-1", "customer_id": "c-1",
        "status": "open", "priority": 1, "assignee": None, "opened_at": at,
        "sla_due_at": at + timedelta(hours=4),
    }  # fmt: skip
    payload = {
        "decision_id": "d-1", "event_id": "e-1", "event_type": "payment", "customer_id": "c-1",
        "outcome": "review", "score": 61.5, "ml_score": 0.25, "amount": "123.45",
        "currency": "EUR", "rule_set": "rs v1", "model_version": "m1", "fired": ["big"],
        "reasons": ["x"], "degraded": None,
    }  # fmt: skip
    event = Event("risk.decision", at, payload, "risk", subject_id="c-1", event_id="ev-1")
    return [live, shadow], [case], event.validated()


def _stored(engine: Engine) -> dict[str, list[Any]]:
    with engine.begin() as conn:
        found = {}
        for t in TABLES:
            result = conn.execute(text(f"SELECT * FROM {t}"))
            # The outbox's serial ``seq`` is the sequence's next number, not a stored value.
            keep = [i for i, k in enumerate(result.keys()) if k != "seq"]
            found[t] = [tuple(r[i] for i in keep) for r in result]
        for t in TABLES:
            conn.execute(text(f"DELETE FROM {t}"))
    return found


def test_the_driver_insert_stores_what_core_stores(engine: Engine) -> None:
    decisions, cases, event = _rows()
    with unit_of_work(engine) as s:
        s.execute(insert(DECISIONS), decisions)
        s.execute(insert(CASES), cases)
        emit_many(s, [event])
    by_core = _stored(engine)

    bundle = Writes(
        [tuple(r[c] for c in DECISION_COLUMNS) for r in decisions],
        [tuple(r[c] for c in CASE_COLUMNS) for r in cases],
        [event],
    )
    # As the writer process gets it: through the pipe's packing and back.
    write_bundles(engine, unpack(pickle.loads(pack([bundle]))))
    by_driver = _stored(engine)

    assert [len(by_core[t]) for t in TABLES] == [2, 1, 1]
    assert by_driver == by_core

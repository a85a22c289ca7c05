"""Decisions that reach ``decide_async`` in one loop turn are decided as one micro-batch, and a
batch answers exactly what the same events decided one at a time answer."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select

from finbridge.core import ManualClock, Principal
from finbridge.core.errors import ValidationError
from finbridge.risk.tables import DecisionRow
from finbridge.store import unit_of_work

from .conftest import make_maker, payment


class Counting:
    """A stand-in scorer (rises with the amount) that counts how it was asked to score."""

    version = "counting-v1"

    def __init__(self) -> None:
        self.calls: list[int] = []  # rows per call

    @staticmethod
    def _one(features: Mapping[str, float]) -> float:
        return min(1.0, float(features["amount"]) / 600.0)

    def score(self, features: Mapping[str, float]) -> float:
        self.calls.append(1)
        return self._one(features)

    def score_many(self, rows: Sequence[Mapping[str, float]]) -> list[float]:
        self.calls.append(len(rows))
        return [self._one(row) for row in rows]


def _same(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in ("decision_id", "event_id", "case_id")}


def test_a_loop_turn_is_one_batch_deciding_as_one_by_one(
    sqlite_engine, clock: ManualClock, system: Principal
) -> None:
    alone = make_maker(sqlite_engine, clock, model=Counting())
    counted = Counting()
    batched = make_maker(
        sqlite_engine, clock, group_commit=True, writer_process=True, model=counted
    )
    amounts = ["12.00", "480.00", "35.50", "590.00"]
    bodies = [payment(clock, customer_id=f"c{i % 2}", amount=a) for i, a in enumerate(amounts)]
    try:
        one_by_one = [
            alone.decide(system, {**b, "event_id": f"a-{i}"}) for i, b in enumerate(bodies)
        ]

        async def one_turn() -> list[Any]:
            asks = [{**b, "event_id": f"b-{i}"} for i, b in enumerate(bodies)]
            asks.append({**bodies[0], "event_id": "b-0"})  # the same event twice in a batch
            asks.append({**bodies[0], "event_id": "b-bad", "amount": 1.5})  # a float amount
            calls = (batched.decide_async(system, ask) for ask in asks)
            return await asyncio.gather(*calls, return_exceptions=True)

        got = asyncio.run(one_turn())
    finally:
        batched.close()
    *decided, twice, bad = got
    assert [_same(d.to_json()) for d in decided] == [_same(d.to_json()) for d in one_by_one]
    assert [d.ml_score for d in decided] == [0.02, 0.8, 35.5 / 600, 590 / 600]
    assert counted.calls == [5]  # one score call (the repeated event too: not stored yet)
    assert twice.decision_id == decided[0].decision_id  # the first stored decision answers
    assert isinstance(bad, ValidationError) and bad.field == "amount"
    with unit_of_work(sqlite_engine, write=False) as s:
        stored = s.scalars(select(DecisionRow.event_id).where(DecisionRow.mode == "live")).all()
    assert sorted(stored) == ["a-0", "a-1", "a-2", "a-3", "b-0", "b-1", "b-2", "b-3"]

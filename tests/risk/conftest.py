"""Risk fixtures: a decision maker over a real migrated database with in-process velocity."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from finbridge.core import ManualClock, Principal, Role
from finbridge.risk.decisions import (
    DecisionMaker,
    DecisionOptions,
    InProcessVelocity,
    VelocityStore,
    default_config,
)
from finbridge.risk.store import SqlDecisionStore


def make_maker(
    engine: Engine,
    clock: ManualClock,
    velocity: VelocityStore | None = None,
    *,
    group_commit: bool = False,
    writer_process: bool = False,
    **kwargs: Any,
) -> DecisionMaker:
    """A decision maker over ``engine`` with a SQL decision store (options as given)."""
    store = SqlDecisionStore(engine, group_commit=group_commit, writer_process=writer_process)
    return DecisionMaker(
        engine, clock, velocity or InProcessVelocity(default_config()), store, **kwargs
    )


@pytest.fixture
def analyst() -> Principal:
    return Principal.operator("ana", [Role.RISK_ANALYST])


@pytest.fixture
def system() -> Principal:
    return Principal.system("payments")


@pytest.fixture
def risk(engine, clock: ManualClock) -> DecisionMaker:
    return make_maker(engine, clock, options=DecisionOptions(rules_refresh_s=0.0))


@pytest.fixture
def sqlite_risk(sqlite_engine, clock: ManualClock) -> DecisionMaker:
    return make_maker(sqlite_engine, clock, options=DecisionOptions(rules_refresh_s=0.0))


def payment(clock: ManualClock, **over: object) -> dict[str, object]:
    base: dict[str, object] = {
        "event_type": "payment",
        "occurred_at": clock.now().isoformat(),
        "customer_id": "cust-1",
        "amount": "120.50",
        "currency": "CNY",
        "merchant_id": "m-1",
        "device_id": "dev-1",
        "ip": "10.0.0.1",
    }
    base.update(over)
    return base


def tick(clock: ManualClock, seconds: float = 5) -> None:
    clock.advance(timedelta(seconds=seconds))

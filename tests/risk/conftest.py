"""Risk fixtures: an engine over a real migrated database with in-process velocity state."""

from __future__ import annotations

from datetime import timedelta

import pytest

from finbridge.core import ManualClock, Principal, Role
from finbridge.risk.engine import EngineOptions, RiskEngine
from finbridge.risk.velocity import InProcessVelocity, default_config


@pytest.fixture
def analyst() -> Principal:
    return Principal.operator("ana", [Role.RISK_ANALYST])


@pytest.fixture
def system() -> Principal:
    return Principal.system("payments")


@pytest.fixture
def risk(engine, clock: ManualClock) -> RiskEngine:
    return RiskEngine(
        engine,
        clock,
        InProcessVelocity(default_config()),
        options=EngineOptions(rules_refresh_s=0.0),
    )


@pytest.fixture
def sqlite_risk(sqlite_engine, clock: ManualClock) -> RiskEngine:
    return RiskEngine(
        sqlite_engine,
        clock,
        InProcessVelocity(default_config()),
        options=EngineOptions(rules_refresh_s=0.0),
    )


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

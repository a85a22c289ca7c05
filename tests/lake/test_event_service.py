"""The lake's service: operator analytics and ad-hoc queries are authorised in the service."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine

from finbridge.core import ManualClock, Principal, Role
from finbridge.core.errors import PermissionDenied
from finbridge.lake import DailyVolume, Event, EventLake, EventService

from .conftest import T0, card_payload

ANALYST = Principal.operator("op-risk", [Role.RISK_ANALYST])
CUSTOMER = Principal.customer("c1")
PARTNER_WITHOUT_READ = Principal.operator("op-credit", [Role.CREDIT_OFFICER])


def _posted(n: int, amount: str, currency: str, kind: str = "transfer", days: int = 0) -> Event:
    payload: dict[str, Any] = {
        "entry_id": f"e{n}",
        "kind": kind,
        "amount": amount,
        "currency": currency,
        "from_account_id": "a1",
        "to_account_id": "a2",
    }
    return Event(
        "transaction.posted", T0 + timedelta(days=days), payload, "banking", subject_id="c1"
    )


_purchase = card_payload("t1", "c1", "3.50", kind="purchase")


@pytest.fixture
def events(sqlite_engine: Engine, lake: EventLake, clock: ManualClock) -> EventService:
    lake.append(
        [
            _posted(1, "10.50", "CNY"),
            _posted(2, "4.50", "CNY"),
            _posted(3, "7.00", "USD"),
            _posted(4, "1000.00", "CNY", kind="opening_balance"),  # seeding, not activity
            _posted(5, "1.25", "CNY", days=1),
            Event("card.transaction", T0, _purchase, "t", "c1"),
        ],
        batch="seed",
    )
    return EventService(sqlite_engine, lake, clock)


def test_daily_volume_per_day_and_currency(events: EventService) -> None:
    day = T0.date()
    assert events.daily_volume(ANALYST) == [
        DailyVolume(day, "CNY", 2, Decimal("15.00")),
        DailyVolume(day, "USD", 1, Decimal("7.00")),
        DailyVolume(day + timedelta(days=1), "CNY", 1, Decimal("1.25")),
    ]
    assert isinstance(events.daily_volume(ANALYST)[0].day, date)


@pytest.mark.parametrize("who", [CUSTOMER, PARTNER_WITHOUT_READ])
def test_operator_analytics_are_refused_to_others(events: EventService, who: Principal) -> None:
    with pytest.raises(PermissionDenied):
        events.daily_volume(who)
    with pytest.raises(PermissionDenied):
        events.query(who, "SELECT count(*) AS n FROM events")
    with pytest.raises(PermissionDenied):
        events.spend_features(who, T0 + timedelta(days=1))


def test_query_and_features_for_operators(events: EventService) -> None:
    rows = events.query(ANALYST, "SELECT count(*) AS n FROM events")
    assert rows == [{"n": 6}]
    features = events.spend_features(ANALYST, T0 + timedelta(hours=1), customer_id="c1")
    assert [r["customer_id"] for r in features] == ["c1"]
    assert events.spend_features(ANALYST, T0 + timedelta(hours=1), customer_id="nobody") == []


def test_recorded_events_travel_through_the_outbox_and_the_relay(events: EventService) -> None:
    from finbridge.core.errors import ValidationError

    admin = Principal.operator("op-admin", [Role.ADMIN])
    read = {"article_id": "a-1", "title": "Markets open higher"}
    batch = [Event("news.read", T0, read, "demo-sim", "c1") for _ in range(3)]
    before = events.lake.count()
    assert events.record(admin, batch) == 3
    # In the outbox, not yet in the lake: the relay publishes them, as an engine's events.
    assert events.pending(admin) == 3 and events.lake.count() == before
    assert events.relay(admin).published == 3
    assert events.pending(admin) == 0 and events.lake.count() == before + 3

    # A payload its schema refuses writes nothing, naming the field; readers may not record.
    good = Event("news.read", T0, read, "demo-sim", "c1")
    bad = Event("news.read", T0, {**read, "read_seconds": "a while"}, "demo-sim", "c1")
    with pytest.raises(ValidationError) as refused:
        events.record(admin, [good, bad])
    assert refused.value.field == "payload.read_seconds"
    assert events.pending(admin) == 0
    with pytest.raises(PermissionDenied):
        events.record(ANALYST, batch)

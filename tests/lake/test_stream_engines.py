"""The engines' durable consumers on a real NATS JetStream: ``risk-velocity`` feeds the risk
engine's windows with spend it did not decide, ``acquisition-profiles`` feeds the stored
customer profiles. Each event has its effect once: redelivered, replayed, or killed before its
commit or its acknowledgement."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine
from tests.nats_support import NatsServer
from tests.settings_support import test_settings as make_settings

from finbridge.acquisition import PROFILE_EVENT_TYPES
from finbridge.core import ManualClock, Principal
from finbridge.core.money import Money
from finbridge.core.settings import RiskSettings, StreamSettings
from finbridge.lake import Event, emit
from finbridge.lake.stream import StreamConsumer
from finbridge.platform import Platform
from finbridge.risk import OBSERVED_TYPES
from finbridge.risk.decisions import (
    VelocityEvent,
    VelocityStore,
    default_config,
)
from finbridge.risk.observed import observe
from finbridge.risk.store import RedisVelocity
from finbridge.store import unit_of_work

from .conftest import card_payload

SYSTEM = Principal.system("test")
FAST = StreamSettings(ack_wait_seconds=1, publish_timeout_seconds=1)


@pytest.fixture
def platform(
    tmp_path: Path, nats_server: NatsServer, engine: Engine, clock: ManualClock
) -> Iterator[Platform]:
    settings = make_settings(
        tmp_path / "data",
        event_bus=nats_server.url,
        stream=FAST,
        risk=RiskSettings(use_model=False),
    )
    p = Platform(settings, engine, clock)
    yield p
    p.close()


def card(customer: str, at: datetime, amount: str = "10.00", **extra: str) -> Event:
    tx = uuid.uuid4().hex[:12]
    return Event(
        "card.transaction", at, card_payload(tx, customer, amount, **extra), "test", customer
    )


def publish(p: Platform, *events: Event) -> None:
    with unit_of_work(p.engine) as session:
        emit(session, *events)
    assert p.stream is not None
    p.stream.relay.drain()


def money_count(velocity: VelocityStore, customer: str, now: datetime) -> int:
    """The customer's money events in the last day (read by a zero probe, itself left out)."""
    probe = VelocityEvent(
        event_id=f"probe-{uuid.uuid4()}",
        ts_ms=int(now.timestamp() * 1000),
        amount_minor=0,
        keys={"customer": f"money:{customer}"},
    )
    return int(velocity.observe(probe)["customer_count_1d"]) - 1


def kill_before_ack(p: Platform, name: str, batch: int) -> int:
    """Fetch a batch, keep its effect, die before acknowledging; returns how many."""
    assert p.stream is not None
    stream = p.stream

    async def run() -> int:
        consumer = StreamConsumer(
            stream.bus, p.engine, stream.handler(name), stream.clock, batch_size=batch
        )
        msgs = await consumer.fetch()
        await asyncio.to_thread(consumer.store, msgs)
        return len(msgs)

    return stream.sink.run(run(), 10)


def test_risk_velocity_counts_undecided_spend_once_and_skips_what_it_decided(
    platform: Platform, clock: ManualClock
) -> None:
    p = platform
    assert p.stream is not None
    now = clock.now()
    spend = [card("c-1", now - timedelta(minutes=m)) for m in (30, 20, 10)]
    refund = card("c-1", now - timedelta(minutes=5), kind="refund")
    publish(p, *spend, refund)
    # Killed after its effect was kept (no ack), then a crash between the velocity update and
    # the commit of the consumer's ledger: neither may count an event twice.
    assert kill_before_ack(p, "risk-velocity", 2) == 2
    handler = p.stream.handler("risk-velocity")
    with pytest.raises(RuntimeError), unit_of_work(p.engine) as session:
        handler.apply(session, [spend[2]])
        raise RuntimeError("killed before the commit")
    time.sleep(FAST.ack_wait_seconds + 0.3)
    result = p.stream.consume(SYSTEM, "risk-velocity")
    assert result.applied == 2  # the refund and the third payment reach the ledger now
    # A posting the engine decided (the posting guard) is in the windows already.
    a = p.banking.create_customer(SYSTEM, kind="personal", display_name="payer")
    b = p.banking.create_customer(SYSTEM, kind="personal", display_name="payee")
    src = p.banking.open_account(SYSTEM, a.id, kind="current", currency_code="CNY")
    dst = p.banking.open_account(SYSTEM, b.id, kind="current", currency_code="CNY")
    p.banking.deposit(SYSTEM, src.id, Money.of("500", "CNY"), idempotency_key="d1")
    p.banking.transfer(SYSTEM, src.id, dst.id, Money.of("120", "CNY"), idempotency_key="t1")
    p.stream.relay.drain()
    p.stream.consume(SYSTEM, "risk-velocity")
    again = p.stream.replay(
        SYSTEM, now - timedelta(days=1), event_types=OBSERVED_TYPES, into="risk-velocity"
    )
    assert again.applied == 0  # a replay never doubles an effect
    velocity = p.risk.decisions.velocity
    assert money_count(velocity, "c-1", now) == 3
    assert money_count(velocity, a.id, now) == 1  # decided once, not counted again


def test_on_redis_a_gateway_process_sees_observed_spend_counted_once(
    sqlite_engine: Engine, clock: ManualClock
) -> None:
    prefix = f"finbridge:test:{uuid.uuid4().hex}"
    first = RedisVelocity(default_config(), prefix=prefix)  # the consumer's process
    second = RedisVelocity(default_config(), prefix=prefix)  # a gateway, same windows
    try:
        now = clock.now()
        spend = card("c-9", now - timedelta(minutes=1))
        with unit_of_work(sqlite_engine) as session:
            assert observe(session, first, [spend]).counted == 1
            assert observe(session, second, [spend]).repeated == 1  # claimed in Redis
        assert money_count(second, "c-9", now) == 1
        ts = int(now.timestamp() * 1000)
        assert second.claim("e-1", ts)
        second.release("e-1")  # an observation that failed gives the event back
        assert first.claim("e-1", ts)
    finally:
        first.clear()
        first.close()
        second.close()


def engagement(kind: str, customer: str, at: datetime) -> Event:
    payload = (
        {"article_id": uuid.uuid4().hex[:8], "title": "央行降息 债市走强", "category": "rates"}
        if kind == "news.read"
        else {"app_version": "1.0", "platform": "ios"}
    )
    return Event(kind, at, payload, "app", customer)


def test_acquisition_profiles_take_each_streamed_event_once(
    platform: Platform, clock: ManualClock
) -> None:
    p = platform
    assert p.stream is not None
    yes = p.banking.create_customer(SYSTEM, kind="personal", display_name="yes").id
    no = p.banking.create_customer(SYSTEM, kind="personal", display_name="no").id
    p.identity.consents.grant(SYSTEM, yes, "marketing", ["behaviour"])
    t0 = clock.now()
    publish(p, engagement("app.opened", yes, t0 - timedelta(days=2)))
    p.stream.consume(SYSTEM, "lake-writer")
    p.acquisition.refresh_profiles(SYSTEM, as_of=t0 - timedelta(days=1))
    events = [
        engagement(kind, who, t0 - timedelta(hours=h))
        for h, kind in ((20, "news.read"), (12, "app.opened"), (3, "news.read"))
        for who in (yes, no)
    ]
    publish(p, *events)
    assert kill_before_ack(p, "acquisition-profiles", 3) == 3
    time.sleep(FAST.ack_wait_seconds + 0.3)
    p.stream.consume(SYSTEM, "acquisition-profiles")
    again = p.stream.replay(
        SYSTEM, t0 - timedelta(days=3), event_types=PROFILE_EVENT_TYPES, into="acquisition-profiles"
    )
    assert again.applied == 0
    stored = p.acquisition.profile(SYSTEM, yes)
    assert stored.as_of == t0 - timedelta(hours=3) + timedelta(microseconds=1)
    p.stream.consume(SYSTEM, "lake-writer")
    full = p.acquisition.profile(SYSTEM, yes, as_of=stored.as_of)
    assert stored.fields["news_reads"] == pytest.approx(full.fields["news_reads"], abs=1e-6)
    assert stored.fields["app_opens"] == pytest.approx(full.fields["app_opens"], abs=1e-6)
    assert np.allclose(stored.engagement_by_hour, full.engagement_by_hour, atol=1e-6)
    # Nothing for a customer without consent (no profile is made from the stream).
    assert p.acquisition.refresh_profiles(SYSTEM, as_of=t0) == 1

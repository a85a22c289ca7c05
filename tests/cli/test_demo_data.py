"""The demo data loader on both databases: real slices in, consistent ledger and lake out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from finbridge.cli.demo_data import (
    CURRENCY,
    load_demo_data,
    opening_balance,
    replay_shift,
)
from finbridge.core import ManualClock, Money, Principal, Settings
from finbridge.lake import EventLake
from finbridge.platform import Platform


def test_opening_balance_is_limit_plus_repayments() -> None:
    assert opening_balance(20000, [0, 689, 0, 0, 0, 0]) == Money.of("20689", CURRENCY)


def test_replay_ends_yesterday_in_business_time() -> None:
    now = datetime(2026, 11, 2, 1, 30, tzinfo=UTC)  # 09:30 on 2 Nov in Shanghai
    assert datetime(2018, 4, 21) + replay_shift(now, "Asia/Shanghai") == datetime(2026, 11, 1)
    late = datetime(2026, 11, 2, 17, 0, tzinfo=UTC)  # already 3 Nov in Shanghai
    assert replay_shift(late, "Asia/Shanghai") - replay_shift(now, "Asia/Shanghai") == timedelta(1)


def test_load_is_consistent_and_idempotent(
    settings: Settings, engine: Engine, clock: ManualClock
) -> None:
    platform = Platform(settings=settings, engine=engine, clock=clock)
    first = load_demo_data(platform, limit=12)
    assert first.customers_opened == 12
    assert first.card_posted > 300 and first.card_declined == 0
    again = load_demo_data(platform, limit=12)
    assert (again.card_posted, again.card_duplicates) == (0, first.card_posted)

    actor = Principal.system("test")
    banking = platform.banking
    assert banking.verify_ledger(actor).ok
    deposits = banking.deposits_by_currency(actor)[CURRENCY]
    # 12 opening balances minus the card payments they made
    assert deposits.is_positive()
    lake = EventLake(platform.lake_dir)
    assert lake.count("customer.created") == 12
    posted = lake.events(event_type="transaction.posted", limit=100_000)
    cards = [e for e in posted if e.payload["kind"] == "card_payment"]
    assert len(cards) == first.card_posted
    assert max(e.occurred_at for e in cards) < clock.now()  # replayed into the past
    assert all(isinstance(e.payload["amount"], str) for e in cards)

"""Acquisition fixtures: a real platform (identity, banking, lake) on a migrated database."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path

import pytest
from sqlalchemy import Engine

from finbridge.banking.guard import ApproveAll
from finbridge.core import ManualClock, Principal, Settings
from finbridge.core.money import Money
from finbridge.lake import Event
from finbridge.platform import Platform

SYSTEM = Principal.system("test")
_keys = count()


@pytest.fixture
def platform(settings: Settings, engine: Engine) -> Iterator[Platform]:
    # 2020-12-01 20:00 in Shanghai: the shipped headlines cover these days.
    p = Platform(settings, engine, ManualClock(datetime(2020, 12, 1, 12, 0, tzinfo=UTC)))
    p.use_posting_guard(ApproveAll())
    yield p
    p.close()


@pytest.fixture
def sqlite_platform(settings: Settings, sqlite_engine: Engine) -> Iterator[Platform]:
    p = Platform(settings, sqlite_engine, ManualClock(datetime(2020, 12, 1, 12, 0, tzinfo=UTC)))
    p.use_posting_guard(ApproveAll())
    yield p
    p.close()


def new_customer(
    platform: Platform, name: str, *, consent: bool = True, deposit: str | None = None
) -> str:
    customer = platform.banking.create_customer(SYSTEM, kind="personal", display_name=name)
    if consent:
        platform.identity.consents.grant(SYSTEM, customer.id, "marketing", ["behaviour"])
    if deposit is not None:
        acc = platform.banking.open_account(
            SYSTEM, customer.id, kind="current", currency_code="CNY"
        )
        platform.banking.deposit(
            SYSTEM, acc.id, Money.of(deposit, "CNY"), idempotency_key=f"d{next(_keys)}"
        )
    return customer.id


def read_news(
    platform: Platform, customer_id: str, at: datetime, title: str = "沪指收涨 基金净值走高"
) -> None:
    event = Event(
        "news.read", at, {"article_id": f"a{next(_keys)}", "title": title}, "app", customer_id
    )
    clock = platform.clock
    if isinstance(clock, ManualClock) and at >= clock.now():
        # The lake quarantines events from its own future (a quality check): the reading
        # happens, then the test's clock is just past it. Tests set the clock they need next.
        clock.set(at + timedelta(seconds=1))
    platform.events.lake.append([event], batch=f"t{next(_keys)}")


def lake_dir(settings: Settings) -> Path:
    return settings.resolved_lake_dir

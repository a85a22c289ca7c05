"""Banking fixtures: a service on each backend and helpers to open funded accounts."""

from __future__ import annotations

from collections.abc import Callable
from itertools import count

import pytest
from sqlalchemy import Engine

from finbridge.banking import Account, BankingService
from finbridge.core import ManualClock, Money, Principal, Role

_keys = count()


@pytest.fixture
def system() -> Principal:
    return Principal.system("test")


@pytest.fixture
def teller() -> Principal:
    return Principal.operator("teller-1", [Role.TELLER])


@pytest.fixture
def svc(engine: Engine, clock: ManualClock) -> BankingService:
    return BankingService(engine, clock)


@pytest.fixture
def lite(sqlite_engine: Engine, clock: ManualClock) -> BankingService:
    """SQLite only: for table-driven input and authorisation checks that do not depend on the
    backend (the PostgreSQL fixture's per-test TRUNCATE costs about a second)."""
    return BankingService(sqlite_engine, clock)


OpenFn = Callable[..., Account]


@pytest.fixture
def open_account(svc: BankingService, system: Principal) -> OpenFn:
    """Open a customer with one account, optionally funded by a teller deposit."""
    return _opener(svc, system)


@pytest.fixture
def open_lite(lite: BankingService, system: Principal) -> OpenFn:
    return _opener(lite, system)


def _opener(svc: BankingService, system: Principal) -> OpenFn:
    def _open(
        balance: str = "0",
        currency: str = "CNY",
        kind: str = "current",
        customer_id: str | None = None,
        **extra: str,
    ) -> Account:
        if customer_id is None:
            customer_id = svc.create_customer(system, kind="personal", display_name="Test").id
        acc = svc.open_account(system, customer_id, kind=kind, currency_code=currency, **extra)
        if Money.of(balance, currency).is_positive():
            svc.deposit(
                system, acc.id, Money.of(balance, currency), idempotency_key=f"fund-{next(_keys)}"
            )
        return svc.get_account(system, acc.id)

    return _open

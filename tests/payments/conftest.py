"""Payments fixtures: the engine on each backend over a plain banking service, and helpers to
open customers with funded wallets."""

from __future__ import annotations

from collections.abc import Callable
from itertools import count
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from tests.settings_support import test_settings

from finbridge.banking import Account, BankingService
from finbridge.core import ManualClock, Money, Principal, Role, Settings
from finbridge.payments import PaymentsService, ReferenceRates

_keys = count()


@pytest.fixture(scope="session")
def rates() -> ReferenceRates:
    """One parsed ECB history for the whole run (parsing it takes a fraction of a second)."""
    return ReferenceRates()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return test_settings(tmp_path / "data")


@pytest.fixture
def system() -> Principal:
    return Principal.system("test")


@pytest.fixture
def teller() -> Principal:
    return Principal.operator("teller-1", [Role.TELLER])


@pytest.fixture
def admin() -> Principal:
    return Principal.operator("admin-1", [Role.ADMIN])


@pytest.fixture
def bank(engine: Engine, clock: ManualClock) -> BankingService:
    return BankingService(engine, clock)


class Directory:
    def __init__(self) -> None:
        self.phones: dict[str, str] = {}

    def customer_by_phone(self, phone: str) -> str | None:
        return self.phones.get(phone)


@pytest.fixture
def directory() -> Directory:
    return Directory()


@pytest.fixture
def pay(
    engine: Engine,
    clock: ManualClock,
    settings: Settings,
    bank: BankingService,
    rates: ReferenceRates,
    directory: Directory,
) -> PaymentsService:
    return PaymentsService(engine, clock, settings, banking=bank, directory=directory, rates=rates)


@pytest.fixture
def lite_bank(sqlite_engine: Engine, clock: ManualClock) -> BankingService:
    """SQLite only: for table-driven input checks that do not depend on the backend (the
    PostgreSQL fixture's per-test TRUNCATE costs about a second)."""
    return BankingService(sqlite_engine, clock)


@pytest.fixture
def lite_pay(
    sqlite_engine: Engine,
    clock: ManualClock,
    settings: Settings,
    lite_bank: BankingService,
    rates: ReferenceRates,
    directory: Directory,
) -> PaymentsService:
    return PaymentsService(
        sqlite_engine, clock, settings, banking=lite_bank, directory=directory, rates=rates
    )


WalletFn = Callable[..., dict[str, Account]]


@pytest.fixture
def wallets(bank: BankingService, system: Principal) -> WalletFn:
    """A customer with one current account per currency, funded as given."""
    return _wallets(bank, system)


@pytest.fixture
def lite_wallets(lite_bank: BankingService, system: Principal) -> WalletFn:
    return _wallets(lite_bank, system)


def _wallets(bank: BankingService, system: Principal) -> WalletFn:
    def _open(name: str = "Test Person", **funds: str) -> dict[str, Account]:
        cid = bank.create_customer(system, kind="personal", display_name=name).id
        out = {}
        for code in ("CNY", "USD", "HKD", "EUR", "GBP", "JPY"):
            acc = bank.open_account(system, cid, kind="current", currency_code=code)
            amount = funds.get(code)
            if amount:
                bank.deposit(system, acc.id, Money.of(amount, code),
                             idempotency_key=f"fund-{next(_keys)}")  # fmt: skip
            out[code] = bank.get_account(system, acc.id)
        return out

    return _open


def customer_of(account: Account) -> Principal:
    assert account.customer_id is not None
    return Principal.customer(account.customer_id)


def currency_sums(engine: Engine) -> dict[str, int]:
    """Every balance of a currency, the bank's own included, sums to zero."""
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT currency, SUM(balance_minor) FROM banking_accounts GROUP BY currency")
        )
        return {r[0]: int(r[1]) for r in rows}

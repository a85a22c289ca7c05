"""A lending world on a real database: banking without a guard, ports as plain objects."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from finbridge.banking import AccountKind, ApproveAll, BankingService
from finbridge.core import ManualClock, Principal, Settings
from finbridge.core.money import Money
from finbridge.lending import (
    ApplicantCheck,
    CobRunner,
    CreditScore,
    FunctionStep,
    LendingDay,
    LendingService,
    Line,
    RiskOpinion,
)
from finbridge.platform import Platform

OPS = Principal.system("test-ops")
_keys = itertools.count()


def key(prefix: str = "k") -> str:
    return f"{prefix}-{next(_keys)}"


@dataclass
class FixedScorer:
    score_value: float = 700.0
    calls: list[str] = field(default_factory=list)

    def score(self, customer_id: str, applicant: dict[str, Any]) -> CreditScore:
        self.calls.append(customer_id)
        return CreditScore(self.score_value, "test_scorecard@1", ({"feature": "PAY_0"},))


@dataclass
class Checks:
    refusals: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def check(self, customer_id: str) -> ApplicantCheck:
        return ApplicantCheck(self.refusals.get(customer_id, ()))


@dataclass
class Risk:
    outcome: str = "approve"

    def assess(self, customer_id: str, requested: Money, event_id: str) -> RiskOpinion:
        return RiskOpinion(self.outcome, ("test risk opinion",))


def cny(amount: str) -> Money:
    return Money.of(amount, "CNY")


class World:
    """Customers with funded deposit accounts, lines, and a clock moved in business days."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.clock = ManualClock(datetime(2026, 1, 6, 2, 0, tzinfo=UTC))  # 10:00 in Shanghai
        self.banking = BankingService(engine, self.clock)
        self.scorer = FixedScorer()
        self.checks = Checks()
        self.risk = Risk()
        self.svc = LendingService(
            engine, self.clock, self.banking, checks=self.checks, scorer=self.scorer, risk=self.risk
        )
        self.svc.install_catalogue(OPS)
        steps = [
            FunctionStep("banking.expire_holds", lambda d: {"n": self.banking.expire_holds(OPS)}),
            *LendingDay(self.svc).steps(),
        ]
        self.cob = CobRunner(engine, self.clock, steps, first_date=self.svc.first_opened)

    def on(self, day: date) -> None:
        """Move the clock to 10:00 business time on ``day``."""
        self.clock.set(datetime(day.year, day.month, day.day, 2, 0, tzinfo=UTC))

    def close_until(self, day: date, **kw: Any) -> list[date]:
        """Run the close of business up to ``day`` (the clock moves to the day after)."""
        self.on(day + timedelta(days=1))
        return self.cob.run(OPS, until=day, **kw)

    def customer(self, funds: str = "10000.00") -> tuple[str, str]:
        cust = self.banking.create_customer(OPS, kind="personal", display_name="Lin").id
        acc = self.banking.open_account(OPS, cust, kind=AccountKind.CURRENT, currency_code="CNY")
        if Money.of(funds, "CNY").is_positive():
            self.banking.deposit(OPS, acc.id, cny(funds), idempotency_key=key("fund"))
        return cust, acc.id

    def line(self, funds: str = "10000.00") -> Line:
        cust, acc = self.customer(funds)
        app = self.svc.apply(
            OPS, cust, product_id="everyday@1", deposit_account_id=acc, income_band="medium",
            applicant={"LIMIT_BAL": 50000}, idempotency_key=key("app"),
        )  # fmt: skip
        assert app.outcome == "approved", app.reasons
        assert app.line_id is not None
        return self.svc.line(OPS, app.line_id)

    def buy(self, line: Line, amount: str, merchant: str = "JD") -> str:
        p = self.svc.authorise_purchase(
            OPS, line.id, cny(amount), merchant=merchant, idempotency_key=key("p")
        )
        self.svc.capture_purchase(OPS, p.id, idempotency_key=key("c"))
        return p.id

    def pay(self, line: Line, amount: str) -> Line:
        return self.svc.repay(OPS, line.id, cny(amount), idempotency_key=key("pay"))

    def ledger_balance(self, line: Line) -> Money:
        return self.banking.balance(OPS, line.account_id).balance


@pytest.fixture
def world(engine: Engine) -> Iterator[World]:
    yield World(engine)


@pytest.fixture
def sqlite_world(sqlite_engine: Engine) -> Iterator[World]:
    yield World(sqlite_engine)


@pytest.fixture
def platform(sqlite_engine: Engine, settings: Settings) -> Platform:
    """A platform whose lending face has plain ports (identity, credit and risk adapters are
    the platform's; their engines test them), and a guard that approves every posting."""
    clock = ManualClock(datetime(2026, 1, 6, 2, 0, tzinfo=UTC))
    p = Platform(settings, sqlite_engine, clock)
    p.use_posting_guard(ApproveAll())
    p._faces["lending"] = LendingService(
        sqlite_engine, clock, p.banking, checks=Checks(), scorer=FixedScorer(), risk=Risk()
    )
    p.lending.install_catalogue(Principal.system("test"))
    return p

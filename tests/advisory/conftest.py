"""Advisory fixtures: the service on a real database with a controllable second factor."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import Engine

from finbridge.advisory import AdvisoryService, ModelReport
from finbridge.banking import BankingService
from finbridge.core import ManualClock, Principal, Settings
from finbridge.core.errors import StepUpRequired

SYSTEM = Principal.system("test")


@dataclass
class FakeSecondFactor:
    """Identity's step-up as the port sees it: fresh for the sessions we say, else refused."""

    fresh: set[str] = field(default_factory=set)
    asked: list[tuple[str, str]] = field(default_factory=list)

    def require_step_up(self, principal: Principal, action: str, *, demanded: bool = False) -> None:
        self.asked.append((principal.id, action))
        if principal.session_id not in self.fresh:
            raise StepUpRequired(f"{action} needs a fresh second factor", field="step_up")


@pytest.fixture
def second_factor() -> FakeSecondFactor:
    return FakeSecondFactor()


@pytest.fixture
def service(
    engine: Engine, clock: ManualClock, settings: Settings, second_factor: FakeSecondFactor
) -> AdvisoryService:
    banking = BankingService(engine, clock)
    return AdvisoryService.build(
        engine, clock, settings, banking=banking, second_factor=second_factor
    )


def new_customer(service: AdvisoryService, name: str = "Ada") -> str:
    return service.banking.create_customer(SYSTEM, kind="personal", display_name=name).id


# Answers that score C3 (balanced) with no cap: 2 points on every question, age 40 scores 4.
BALANCED: dict[str, Any] = {
    "age": 40,
    "income": "300k_500k",
    "income_stability": "fairly_stable",
    "financial_assets": "500k_3m",
    "debt": "10_30",
    "investable_share": "30_50",
    "dependants": "two",
    "experience_years": "2_5",
    "products_used": "mixed",
    "knowledge": "fair",
    "horizon": "3_5",
    "objective": "balanced",
    "loss_tolerance": "5_15",
    "drop_reaction": "wait",
    "liquidity_need": "possible",
    "emergency_fund": "3_6",
}


@pytest.fixture(scope="session")
def small_models() -> ModelReport:
    """The five models validated on a small window: out of sample 2008-04..2010-04 (the crisis
    and the recovery), built once per test session (skfolio is slow to import and fit)."""
    from finbridge.advisory.portfolios import build_models
    from finbridge.core.settings import AdvisorySettings

    return build_models(end=dt.date(2010, 6, 30), max_turnover=AdvisorySettings().max_turnover)

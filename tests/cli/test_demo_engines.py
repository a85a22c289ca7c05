"""The demo brings credit, risk and quant to life from its own data, once."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from finbridge.cli.demo_data import load_demo_data
from finbridge.cli.demo_engines import MIN_CLIENTS_FOR_MODEL, SCORECARD, seed_engines
from finbridge.core import ManualClock, Principal, Settings
from finbridge.platform import Platform

ACTOR = Principal.system("test")


@pytest.mark.slow  # seeds every engine from the demo data (about 55 s)
def test_engines_are_seeded_from_the_demo_customers_and_only_once(
    settings: Settings, sqlite_engine: Engine, clock: ManualClock
) -> None:
    platform = Platform(settings, sqlite_engine, clock)
    load_demo_data(platform, limit=MIN_CLIENTS_FOR_MODEL)
    said: list[str] = []
    first = seed_engines(platform, clients=MIN_CLIENTS_FOR_MODEL, say=said.append)

    live = [v for v in platform.credit.list_versions(ACTOR, SCORECARD) if v.status == "live"]
    assert len(live) == 1 and live[0].metrics["auc"] > 0.6  # a real model, on held-out clients
    assert first.credit_model is not None and "AUC" in first.credit_model
    active = platform.risk.rule_sets.current("active")
    assert active is not None and first.risk_rule_set == active.name
    runs = platform.quant.list_runs(ACTOR)
    assert [r.status for r in runs] == ["succeeded"]
    assert len(said) >= 6  # credit, risk, quant, payments, advisory, quant market, ...
    assert first.quant_market is not None and platform.quant.markets(ACTOR)
    seeded = len(said)

    again = seed_engines(platform, clients=MIN_CLIENTS_FOR_MODEL, say=said.append)
    assert len(said) == seeded  # nothing trained, stored, run or seeded a second time
    assert len(platform.credit.list_versions(ACTOR, SCORECARD)) == 1
    assert len(platform.quant.list_runs(ACTOR)) == 1
    assert again.risk_rule_set == active.name
    platform.close()


def test_a_small_demo_skips_the_model_but_seeds_the_rest(
    settings: Settings, sqlite_engine: Engine, clock: ManualClock
) -> None:
    platform = Platform(settings, sqlite_engine, clock)
    seeded = seed_engines(platform, clients=10)
    assert seeded.credit_model is None
    assert platform.credit.list_versions(ACTOR, SCORECARD) == []
    assert seeded.risk_rule_set is not None and seeded.quant_run is not None
    platform.close()

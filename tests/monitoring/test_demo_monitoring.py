"""The demo's turn of monitoring: real PSI and label-delayed performance of the live fraud
model over the demo's card payments, days ending yesterday; idempotent."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest
from sqlalchemy import Engine

from finbridge.cli.demo_monitoring import seed_monitoring
from finbridge.core import ManualClock, Principal, Settings
from finbridge.platform import Platform, monitor_store, run_monitors


@pytest.mark.slow  # the handbook features of 40,000 payments and the shipped model: ~25 s loaded
def test_demo_seeds_a_turn_of_monitoring(settings: Settings, sqlite_engine: Engine,
                                         clock: ManualClock) -> None:  # fmt: skip
    platform = Platform(settings=settings, engine=sqlite_engine, clock=clock)
    # The lending demo's close of business monitored a day first: the live model had no
    # traffic then, which must not read as "already seeded".
    today = clock.now().astimezone(UTC).date()
    (quiet,) = run_monitors(platform, Principal.system("cob"), today - timedelta(days=40),
                            engines=("risk",))  # fmt: skip
    assert quiet.n_current == 0
    said: list[str] = []
    summary = seed_monitoring(platform, said.append)
    assert summary is not None and summary.startswith("14 fraud-model days"), summary
    runs = monitor_store(platform).history(Principal.system("t"), engine="risk")
    runs = [r for r in runs if r.day != quiet.day]
    assert len(runs) == 14
    yesterday = clock.now().astimezone(UTC).date() - timedelta(days=1)
    assert runs[-1].day <= yesterday + timedelta(days=1)
    assert all(r.n_current > 1000 and r.score_psi is not None for r in runs)
    labelled = [r for r in runs if r.performance["status"] == "ok"]
    assert labelled and all(0.5 < r.performance["auc"] <= 1.0 for r in labelled)
    assert seed_monitoring(platform, said.append) == "monitor runs found"
    assert len(said) == 1

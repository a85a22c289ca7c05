"""The learning loop in the close of business: the day's monitors every day, a retraining turn
on its cadence; each step idempotent for its business date."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from importlib import resources
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Engine, func, select

from finbridge.core import ManualClock, Principal, Settings
from finbridge.core.settings import MonitoringSettings
from finbridge.lake.monitoring.tables import MonitorRunRow
from finbridge.lending import CobStep
from finbridge.platform import Platform
from finbridge.platform._learning import learning_steps, retrain_due
from finbridge.platform._lending_ports import cob_steps
from finbridge.store.engine import unit_of_work

SUNDAY = date(2018, 5, 6)
ANALYST = Principal.system("test")


@pytest.mark.parametrize(
    ("every", "day", "due"),
    [
        (7, SUNDAY, True),
        (7, SUNDAY + timedelta(days=1), False),
        (7, SUNDAY + timedelta(days=7), True),
        (1, SUNDAY + timedelta(days=3), True),
        (0, SUNDAY, False),  # never
    ],
)
def test_the_retraining_cadence_is_fixed_by_the_calendar(every: int, day: date, due: bool) -> None:
    assert retrain_due(every, day) is due


def _steps(platform: Platform) -> dict[str, CobStep]:
    return {s.name: s for s in learning_steps(platform)}


@pytest.mark.slow  # builds the risk and credit faces (LightGBM, optbinning): ~30 s at load 15
def test_the_days_monitors_run_in_the_close_of_business_once_per_day(
    settings: Settings, sqlite_engine: Engine, clock: ManualClock
) -> None:
    # SQLite only: the monitor store's replace-per-day is tested on both databases beside it.
    engine = sqlite_engine
    platform = Platform(settings=settings, engine=engine, clock=clock)
    names = [s.name for s in cob_steps(platform)]
    # After the day's postings and settlement; before the outbox purge.
    assert names.index("payments.settle_merchants") < names.index("learning.monitor")
    assert names.index("learning.monitor") < names.index("learning.retrain")
    assert names.index("learning.retrain") < names.index("lake.purge_outbox")

    steps = _steps(platform)
    day = date(2026, 11, 1)
    first = steps["learning.monitor"].run(day)
    # The shipped fraud model is live and decided nothing: a no-traffic run, said.
    assert first["runs"] >= 1 and any(m.startswith("risk:") for m in first["models"])
    again = steps["learning.monitor"].run(day)
    assert again == first
    with unit_of_work(engine, write=False) as s:
        stored = s.scalar(select(func.count()).where(MonitorRunRow.day == day))
    assert stored == first["runs"]  # the rerun replaced the day's runs, added none

    # Without labelled history the retraining day is skipped and says why; off days say so.
    monday = steps["learning.retrain"].run(SUNDAY + timedelta(days=1))
    assert "not a retraining day" in monday["skipped"]
    assert "retrain_data" in steps["learning.retrain"].run(SUNDAY)["skipped"]

    # Set to learn from the platform's own live decisions, the same day runs a turn on them:
    # here none were labelled, which the step reports while the day goes on.
    own = settings.with_changes(monitoring=MonitoringSettings(retrain_source="decisions"))
    turn = _steps(Platform(settings=own, engine=engine, clock=clock))["learning.retrain"].run(
        SUNDAY
    )
    assert "labelled frauds" in turn["failed"], turn


@pytest.mark.slow  # one retraining turn (LightGBM on three weeks of payments): ~70 s at load 15
def test_a_retraining_day_runs_one_turn_from_the_feature_store_and_never_twice(
    settings: Settings, sqlite_engine: Engine, tmp_path: Path
) -> None:
    src = resources.files("finbridge.datasets") / "fraud" / "fdh_300_customers.parquet"
    data = tmp_path / "labelled.parquet"
    frame = pl.read_parquet(str(src))
    frame.filter(pl.col("TX_DATETIME") < datetime(2018, 5, 7)).write_parquet(data)
    settings = settings.with_changes(
        monitoring=MonitoringSettings(retrain_data=data, retrain_history_days=14)
    )
    clock = ManualClock(datetime(2018, 5, 7, 1, 0).astimezone())
    platform = Platform(settings=settings, engine=sqlite_engine, clock=clock)
    retrain = _steps(platform)["learning.retrain"]

    turn = retrain.run(SUNDAY)
    assert turn["challenger"].startswith("retrain-20180507-"), turn
    assert isinstance(turn["promoted"], bool) and "average precision" in turn["reason"]
    # Trained from the feature store's fraud view, materialised as of the turn.
    last = platform.features.store.last_materialisation(
        platform.features.store.registry.get("fraud_transaction")
    )
    assert last is not None and last.until.date() == date(2018, 5, 7) and last.rows > 10_000

    # The same business date again (a COB resumed after a crash): no second turn.
    again = retrain.run(SUNDAY)
    assert again == {"skipped": "already retrained", "challenger": turn["challenger"]}
    versions = [m.version for m in platform.risk.registered_models(ANALYST)]
    assert sum(v.startswith("retrain-20180507-") for v in versions) == 1

    # A turn that cannot run is reported and the day goes on (no frauds known that early).
    early = retrain.run(date(2018, 4, 8))
    assert "labelled frauds" in early["failed"] and early["field"] == "as_of"

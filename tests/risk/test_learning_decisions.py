"""The platform's own live decisions as the retraining job's training set: features replayed
from the stored requests (what each decision scored), verdicts from analysts' cases and
chargebacks with the instant each became known, joined point in time through the feature store.

Sixteen days of card payments over ten terminals decide live with a tiny model (fraud: amount
above 300); analysts close each day's review cases the next morning (confirm above 350,
release below). A small payment of day 3 nobody reviewed is disputed by the card scheme on day
15: the planted late label. At the turn of day 12 it must be a genuine payment (silence past
the feedback delay) and at day 16 a fraud known from the chargeback's arrival, never earlier.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from sqlalchemy import Engine
from tests.settings_support import test_settings as make_settings

from finbridge.core import ManualClock, Principal, Role
from finbridge.core.errors import ValidationError
from finbridge.core.settings import MonitoringSettings, RiskSettings
from finbridge.platform import Platform, retrain_fraud_model

from .registry_support import tiny_model

START = datetime(2026, 10, 1, tzinfo=UTC)
DAYS = 16
DELAY = 2  # days: an unreviewed, undisputed payment is genuine two days on
PER_DAY = 20


def _payment(at: datetime, customer: str, terminal: str, amount: float) -> dict[str, object]:
    return {
        "event_type": "payment", "occurred_at": at.isoformat(), "customer_id": customer,
        "amount": f"{amount:.2f}", "currency": "CNY", "terminal_id": terminal,
        "device_id": f"dev-{customer}", "ip": "10.0.0.1",
    }  # fmt: skip


@pytest.mark.slow  # 320 decisions, three replays, a LightGBM turn: 35 s at load 15
def test_live_decisions_and_chargebacks_are_a_point_in_time_training_set(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    settings = make_settings(
        tmp_path / "data",
        monitoring=MonitoringSettings(
            retrain_history_days=7, retrain_eval_days=2, label_delay_days=DELAY, retrain_margin=0
        ),
        risk=RiskSettings(use_model=False),  # the test's own model decides
    )
    clock = ManualClock(START)
    platform = Platform(settings=settings, engine=sqlite_engine, clock=clock)
    analyst = Principal.operator("ana", [Role.RISK_ANALYST])
    system = Principal.system("payments")
    risk = platform.risk
    maker = risk.decisions
    launch = tiny_model("launch")
    maker.use_model(launch)
    rng = random.Random(7)
    decided = []
    planted = None
    for day in range(DAYS):
        # The morning after: yesterday's reviews are closed by the analysts.
        clock.set(datetime.combine((START + timedelta(days=day)).date(), time(8), tzinfo=UTC))
        for case in risk.cases.queue(analyst, limit=500):
            amount = next(float(d[1]["amount"]) for d in decided if d[0].event_id == case.event_id)
            risk.cases.close(analyst, case.id, "confirm" if amount > 350 else "release")
        for k in range(PER_DAY):
            at = START + timedelta(days=day, hours=9, minutes=30 * k)
            clock.set(at)
            amount = 40.0 if (day, k) == (3, 5) else rng.uniform(10, 600)
            request = _payment(at, f"c{rng.randrange(20)}", f"t{rng.randrange(10)}", amount)
            decision = maker.decide(system, request)
            decided.append((decision, request))
            if (day, k) == (3, 5):
                planted = decision
    assert planted is not None and planted.outcome == "approve"
    clock.set(START + timedelta(days=15, hours=6))
    risk.cases.chargeback(analyst, planted.event_id, reason_code="10.4")
    clock.set(START + timedelta(days=DAYS, hours=1))

    store = platform.features.store
    history = risk.decision_history(store, label_delay_days=DELAY)

    # The replay is what each decision scored: before any verdict is a feedback delay old the
    # live model, given the replayed features, gives every stored score back.
    replayed = history.features(START + timedelta(days=DAYS))
    assert replayed.height == len(decided)
    early = replayed.filter(pl.col("occurred_at") < START + timedelta(days=7))
    stored = {d.event_id: d.ml_score for d, _ in decided}
    for row in early.iter_rows(named=True):
        assert launch.score(row) == pytest.approx(stored[row["transaction_id"]], abs=1e-9)
    # Later payments see their terminals' delayed fraud rates from verdicts known then.
    assert replayed["terminal_delayed_risk_30d"].max() > 0  # type: ignore[operator]

    # The turn of day 12: the planted payment is genuine (silence past the delay), labelled
    # from payment + delay; the chargeback of day 15 is not there.
    turn = START + timedelta(days=12)
    history.publish(until=turn)
    labels = history.labels(turn)
    got = history.labelled(turn, since=START)
    mine = got.filter(pl.col("transaction_id") == planted.event_id).row(0, named=True)
    assert mine["TX_FRAUD"] == 0
    assert mine["label_time"] == START + timedelta(days=3 + DELAY, hours=9, minutes=150)
    # Every verdict known by then, each joined with its own payment's features, never later.
    assert got.height == labels.height > 150
    assert (got["label_time"] <= turn).all()
    snapshot = pl.from_arrow(store.snapshot("fraud_transaction"))
    assert isinstance(snapshot, pl.DataFrame)
    joined = got.join(snapshot, on="transaction_id", suffix="_stored")
    assert joined.height == got.height
    assert (joined["event_time"] < joined["label_time"]).all()
    assert np.array_equal(joined["amount"].to_numpy(), joined["amount_stored"].to_numpy())
    frauds = got["TX_FRAUD"].sum()
    assert 0 < frauds < got.height

    # Day 16: a label known before its features are materialised is refused, never
    # zero-filled. The retraining job materialises them as of its turn, trains a challenger
    # on the decisions' training set and judges it beside the live model.
    later = START + timedelta(days=DAYS)
    with pytest.raises(ValidationError, match="have no features in fraud_transaction"):
        history.labelled(later, since=START)
    result = retrain_fraud_model(platform, analyst, as_of=later, source="decisions")
    assert result.train_rows > 100 and result.train_frauds > 0 and result.eval_frauds > 0
    assert result.champion is not None and result.champion.version == "launch"
    assert risk.models(analyst)["shadow" if not result.promote else "live"] == (
        result.challenger.version
    )
    # ... and the chargeback is a fraud from its arrival on.
    after = history.labelled(later, since=START)
    charged = after.filter(pl.col("transaction_id") == planted.event_id).row(0, named=True)
    assert charged["TX_FRAUD"] == 1
    assert charged["label_time"] == START + timedelta(days=15, hours=6)

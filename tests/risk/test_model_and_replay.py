"""Batch features equal the online engine; the model trains; replays and backtests add up."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from importlib import resources

import numpy as np
import polars as pl
import pytest

from finbridge.risk.backtest import backtest_frame, replay_handbook
from finbridge.risk.decisions import (
    EntityWindows,
    InProcessVelocity,
    VelocityConfig,
    VelocityEvent,
    default_config,
)
from finbridge.risk.models import (
    CUSTOMER_WINDOWS,
    MODEL_FEATURES,
    TERMINAL_WINDOWS,
    FraudModel,
    card_precision_at_k,
    evaluate,
    handbook_split,
    model_frame,
    prepare,
)
from finbridge.risk.rules import CompiledRuleSet, FeatureCatalog, default_rule_set, derive


@pytest.fixture(scope="module")
def slice_frame() -> pl.DataFrame:
    path = resources.files("finbridge.datasets") / "fraud" / "fdh_300_customers.parquet"
    return prepare(pl.read_parquet(str(path)))


@pytest.fixture(scope="module")
def features(slice_frame: pl.DataFrame) -> pl.DataFrame:
    return model_frame(slice_frame)


def test_batch_features_equal_the_online_velocity_engine(
    slice_frame: pl.DataFrame, features: pl.DataFrame
) -> None:
    """Replay 4,000 events (a month) through the exact windows and compare every feature."""
    sample = features.filter(pl.col("TX_DATETIME") < datetime(2018, 5, 1)).head(4000)
    cfg = VelocityConfig(
        (EntityWindows("customer", CUSTOMER_WINDOWS), EntityWindows("terminal", TERMINAL_WINDOWS))
    )
    store = InProcessVelocity(cfg)
    names = [n for n in cfg.feature_names() if n in features.columns]
    names += ["amount_to_customer_avg_30d", "amount_zscore_180d", "customer_max_7d_to_avg_180d"]
    assert len(names) >= 40
    mismatches = 0
    for row in sample.iter_rows(named=True):
        online = store.observe(
            VelocityEvent(
                str(row["TRANSACTION_ID"]),
                row["ts_ms"],
                row["amount_minor"],
                {"customer": row["customer"], "terminal": row["terminal"]},
            )
        )
        online["amount"] = row["amount_minor"] / 100
        derive(online)
        mismatches += sum(online[n] != row[n] for n in names)  # bit-identical, not approx
    assert mismatches == 0


def test_delayed_terminal_risk_only_sees_labels_older_than_the_delay(
    features: pl.DataFrame,
) -> None:
    first_week = features.filter(pl.col("TX_TIME_DAYS") < 7)
    assert first_week["terminal_delayed_count_30d"].sum() == 0
    assert features["terminal_delayed_risk_7d"].max() <= 1.0


def test_card_precision_counts_cards_once() -> None:
    test = pl.DataFrame(
        {
            "TX_TIME_DAYS": [0, 0, 0, 1, 1],
            "CUSTOMER_ID": [1, 1, 2, 1, 3],
            "TX_FRAUD": [1, 0, 0, 1, 1],
        }
    )
    scores = np.array([0.9, 0.8, 0.1, 0.9, 0.5])
    # day 0: top-2 cards {1 (fraud), 2} -> 0.5; day 1: card 1 already detected, {3} -> 0.5
    assert card_precision_at_k(test, scores, k=2) == 0.5


def test_model_trains_on_the_handbook_protocol_and_scores_online(
    features: pl.DataFrame, tmp_path
) -> None:
    # 300 customers give few frauds a week: train on five weeks of the slice (same protocol).
    split = handbook_split(features, datetime(2018, 6, 20), train_days=35)
    model = FraudModel.fit(split.train, rounds=60, version="test")
    metrics = evaluate("lgbm", split, model.score_frame(split.test))
    assert metrics.auc > 0.85, metrics
    assert metrics.train_rows > 0 and metrics.test_rows > 0
    path = tmp_path / "m.json"
    model.save(path)
    again = FraudModel.load(path)
    row = split.test.row(0, named=True)
    online = again.score({n: float(row[n]) for n in MODEL_FEATURES})
    assert online == pytest.approx(float(model.score_frame(split.test.head(1))[0]), abs=1e-12)
    rows = [
        {n: float(r[n]) for n in MODEL_FEATURES} for r in split.test.head(9).iter_rows(named=True)
    ]
    assert again.score_many(rows) == [again.score(r) for r in rows]  # a micro-batch: same floats


def test_replay_and_backtest_match_row_by_row_rules(features: pl.DataFrame) -> None:
    catalog = FeatureCatalog.standard(default_config().feature_names())
    catalog.numeric |= set(MODEL_FEATURES)
    rs = CompiledRuleSet(default_rule_set(), catalog)
    frame = features.head(20_000)
    result = replay_handbook(
        pl.read_parquet(
            str(resources.files("finbridge.datasets") / "fraud" / "fdh_300_customers.parquet")
        ).head(20_000),
        rs,
        None,
    )
    assert result.events == 20_000 and result.events_per_second > 0
    report = result.report
    assert report.events == 20_000 and sum(report.outcomes.values()) == 20_000
    # The vectorised rules agree with the interpreter on every row.
    rows = frame.with_columns(
        pl.lit("payment").alias("event_type"), pl.lit(0.0).alias("ml_score")
    ).with_columns(pl.col("is_night").cast(pl.Boolean), pl.col("is_weekend").cast(pl.Boolean))
    outcomes = [rs.evaluate("payment", r).outcome for r in rows.head(3000).iter_rows(named=True)]
    labelled = rows.head(3000).with_columns(
        pl.col("label").alias("label"), pl.col("customer").alias("customer_id")
    )
    vector = backtest_frame(rs, labelled)
    assert vector.outcomes == {o: outcomes.count(o) for o in set(outcomes)}
    assert vector.flagged == sum(o != "approve" for o in outcomes)
    # Money caught is exact: the flagged frauds' amounts summed in cents.
    flagged_frauds = [
        r["amount"]
        for r, o in zip(labelled.iter_rows(named=True), outcomes, strict=True)
        if o != "approve" and r["label"]
    ]
    assert vector.money_caught == sum(Decimal(str(round(a, 2))) for a in flagged_frauds)
    assert Decimal(0) <= vector.money_caught <= vector.money_fraud_total


def test_flattened_trees_score_exactly_like_lightgbm(features: pl.DataFrame) -> None:
    from finbridge.risk.models import load_default_model

    model = load_default_model()
    assert model is not None, "the shipped model artifact is missing"
    x = features.select(model.feature_names).head(5000).to_numpy().astype(np.float64)
    x[::97, 3] = np.nan  # missing values follow LightGBM's default direction
    ours = model.score_matrix(x)
    theirs = model.booster.predict(x, num_threads=1)
    assert np.abs(ours - theirs).max() < 1e-12


def test_online_delayed_terminal_rates_match_the_batch_definition(features: pl.DataFrame) -> None:
    """The online table as of an instant equals the batch feature of an event at that instant."""
    from datetime import UTC

    from finbridge.risk.decisions import terminal_rates

    frame = features.filter(pl.col("TX_TIME_DAYS") < 60)
    busy = frame.filter(pl.col("terminal_delayed_risk_30d") > 0).sort("ts_ms")
    last = busy.row(busy.height - 1, named=True)  # a terminal with labelled fraud history
    asof = datetime.fromtimestamp(last["ts_ms"] / 1000, tz=UTC)
    rows = [
        (r["terminal"], datetime.fromtimestamp(r["ts_ms"] / 1000, tz=UTC), bool(r["label"]))
        for r in frame.select("terminal", "ts_ms", "label").iter_rows(named=True)
    ]
    table = terminal_rates(rows, asof)
    online = table.get(last["terminal"], {})
    for w in (1, 7, 30):
        for name in (f"terminal_delayed_count_{w}d", f"terminal_delayed_risk_{w}d"):
            assert online.get(name, 0.0) == last[name], name
    assert last["terminal_delayed_risk_30d"] > 0

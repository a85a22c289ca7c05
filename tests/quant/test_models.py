from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from finbridge.core.errors import ValidationError
from finbridge.quant.data import load_cn_bars
from finbridge.quant.evaluation import ic_decay, ic_series, quantile_returns, summarize
from finbridge.quant.factors import ALPHA158, ALPHA158_LABEL, FactorEngine, compute_label
from finbridge.quant.models import Dataset, LinearAlpha, WalkForward, fit_predict, make_model

SUBSET = {
    k: ALPHA158[k] for k in ("KMID", "ROC5", "ROC20", "MA10", "STD20", "RSV20", "CORR20", "VMA5")
}


@pytest.fixture(scope="module")
def data() -> tuple[Dataset, pl.DataFrame]:
    bars = load_cn_bars(start=dt.date(2016, 1, 1), end=dt.date(2018, 12, 31))
    bars = bars.filter(pl.col("instrument") != "SH000300")
    features = FactorEngine().compute(bars, SUBSET)
    return Dataset.build(features, compute_label(bars, ALPHA158_LABEL)), bars


@pytest.mark.parametrize("name", ["lightgbm", "linear"])
def test_models_fit_and_predict_after_training(
    data: tuple[Dataset, pl.DataFrame], name: str
) -> None:
    dataset, _ = data
    model = make_model(
        name, **({"n_estimators": 20, "num_leaves": 15, "n_jobs": 1} if name == "lightgbm" else {})
    )
    scores = fit_predict(
        model,
        dataset,
        train=(dt.date(2016, 1, 1), dt.date(2017, 12, 27)),
        test=(dt.date(2018, 1, 2), dt.date(2018, 12, 31)),
    )
    assert scores["date"].min() >= dt.date(2018, 1, 2)
    assert scores["score"].is_finite().all()
    report = summarize(ic_series(scores, dataset.frame))
    assert report.n_days > 200 and -0.3 < report.ic < 0.3


def test_test_window_inside_training_is_refused(data: tuple[Dataset, pl.DataFrame]) -> None:
    with pytest.raises(ValidationError, match="not after training ends"):
        fit_predict(
            LinearAlpha(),
            data[0],
            train=(dt.date(2016, 1, 1), dt.date(2017, 6, 30)),
            test=(dt.date(2017, 6, 1), dt.date(2017, 12, 31)),
        )
    with pytest.raises(ValidationError, match="unknown model"):
        make_model("sklearn.linear_model.Ridge")


@pytest.mark.parametrize("mode", ["rolling", "expanding"])
def test_walk_forward_predicts_each_block_with_an_earlier_model(
    data: tuple[Dataset, pl.DataFrame], mode: str
) -> None:
    wf = WalkForward(model="linear", mode=mode, train_years=1, step_months=6)  # type: ignore[arg-type]
    scores = wf.run(data[0], dt.date(2017, 7, 1), dt.date(2018, 12, 31))
    assert scores["date"].min() >= dt.date(2017, 7, 3)
    assert scores.select(pl.struct("instrument", "date").is_duplicated().any()).item() is False


def test_ic_metrics_on_a_known_signal(data: tuple[Dataset, pl.DataFrame]) -> None:
    dataset, bars = data
    labels = dataset.frame.select("instrument", "date", "label").drop_nulls()
    perfect = labels.rename({"label": "score"})
    rep = summarize(ic_series(perfect, labels))
    assert rep.ic == pytest.approx(1.0) and rep.rank_ic == pytest.approx(1.0)
    noise = perfect.with_columns(
        score=pl.Series(np.random.default_rng(0).normal(size=perfect.height))
    )
    assert abs(summarize(ic_series(noise, labels)).ic) < 0.05
    q = quantile_returns(perfect, labels, top_k=5)
    assert (q["long_short"] > 0).all() and (q["topk"] >= q["market"]).all()
    decay = ic_decay(perfect, bars, horizons=(1, 5, 20))
    assert decay["ic"][0] == pytest.approx(1.0, abs=1e-6) and decay["ic"][2] < decay["ic"][0]

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from finbridge.quant.data import load_cn_bars
from finbridge.quant.factors import (
    ALPHA158,
    ALPHA158_LABEL,
    ExpressionError,
    FactorEngine,
    FillNa,
    LookAheadError,
    ProcessorChain,
    Winsorize,
    ZScore,
    check_point_in_time,
    compute_label,
    lookback,
    max_lookback,
    parse,
)
from finbridge.quant.factors._expr import Binary, Call, Field, Num


@pytest.fixture(scope="module")
def bars() -> pl.DataFrame:
    return load_cn_bars(["SH600000", "SZ300059", "SH600036"], end=dt.date(2016, 6, 30))


@pytest.fixture(scope="module")
def alpha(bars: pl.DataFrame) -> pl.DataFrame:
    return FactorEngine().compute(bars, ALPHA158)


def test_parser_builds_an_ast_with_precedence() -> None:
    node = parse("ref($close, 5) / close - 1")
    assert node == Binary(
        "-", Binary("/", Call("ref", (Field("close"), Num(5.0))), Field("close")), Num(1.0)
    )
    assert lookback(parse("mean(ref(close, 5), 10)")) == 14


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("__import__('os').system('x')", "unknown function|unexpected"),
        ("mean(close)", "takes 2 arguments"),
        ("mean(close, 2.5)", "integer"),
        ("mean(close, volume)", "must be numbers"),
        ("close +", "expected more input"),
        ("", "empty"),
        ("close ; 1", "unexpected character"),
    ],
)
def test_bad_expressions_are_refused_without_eval(text: str, why: str) -> None:
    with pytest.raises(ExpressionError, match=why):
        parse(text)


def test_unknown_field_is_named(bars: pl.DataFrame) -> None:
    with pytest.raises(ExpressionError, match="unknown field 'amount'"):
        FactorEngine().compute(bars, {"x": "amount / close"})


def test_look_ahead_refused_for_features_allowed_for_labels(bars: pl.DataFrame) -> None:
    with pytest.raises(LookAheadError, match="reads 1 day"):
        FactorEngine().compute(bars, {"peek": "ref(close, -1) / close"})
    label = compute_label(bars, ALPHA158_LABEL)
    one = bars.filter(pl.col("instrument") == "SH600000").sort("date")["close"].to_numpy()
    got = label.filter(pl.col("instrument") == "SH600000")["label"].to_numpy()
    assert got[0] == pytest.approx(one[2] / one[1] - 1)
    assert np.isnan(got[-1]) or got[-1] is None


def test_config_with_a_feature_window_after_the_decision_is_refused() -> None:
    with pytest.raises(LookAheadError, match="after the decision time"):
        check_point_in_time(ALPHA158, feature_end=dt.date(2020, 1, 3), decision=dt.date(2020, 1, 2))
    with pytest.raises(LookAheadError, match="into the future"):
        check_point_in_time(
            {"f": "ref(close, -5)"}, feature_end=dt.date(2020, 1, 2), decision=dt.date(2020, 1, 2)
        )
    check_point_in_time(ALPHA158, feature_end=dt.date(2020, 1, 2), decision=dt.date(2020, 1, 2))
    assert max_lookback(ALPHA158) == 60


def test_alpha158_has_qlibs_158_names() -> None:
    assert len(ALPHA158) == 158
    names = list(ALPHA158)
    assert names[:9] == ["KMID", "KLEN", "KMID2", "KUP", "KUP2", "KLOW", "KLOW2", "KSFT", "KSFT2"]
    assert names[9:13] == ["OPEN0", "HIGH0", "LOW0", "VWAP0"]
    assert names[13:18] == ["ROC5", "ROC10", "ROC20", "ROC30", "ROC60"]
    assert names[-1] == "VSUMD60"


def _hand(bars: pl.DataFrame, name: str, day: int) -> dict[str, float]:
    """Alpha158 values computed with plain NumPy from Qlib's formulas, for one row."""
    s = bars.filter(pl.col("instrument") == name).sort("date")
    o, h, low, c, v = (
        s[k].to_numpy()[: day + 1] for k in ("open", "high", "low", "close", "volume")
    )

    def win(x: np.ndarray, d: int) -> np.ndarray:
        return x[-d:]

    def regression(y: np.ndarray) -> tuple[float, float, float]:
        x = np.arange(1, len(y) + 1, dtype=float)
        slope, intercept = np.polyfit(x, y, 1)
        r2 = np.corrcoef(x, y)[0, 1] ** 2
        return slope, r2, y[-1] - (intercept + slope * x[-1])

    chg = np.diff(c)
    out = {
        "KMID": (c[-1] - o[-1]) / o[-1],
        "KUP2": (h[-1] - max(o[-1], c[-1])) / (h[-1] - low[-1] + 1e-12),
        "KSFT": (2 * c[-1] - h[-1] - low[-1]) / o[-1],
        "VWAP0": (h[-1] + low[-1] + c[-1]) / 3 / c[-1],
        "ROC5": c[-6] / c[-1],
        "MA10": win(c, 10).mean() / c[-1],
        "STD20": win(c, 20).std(ddof=1) / c[-1],
        "BETA5": regression(win(c, 5))[0] / c[-1],
        "RSQR10": regression(win(c, 10))[1],
        "RESI5": regression(win(c, 5))[2] / c[-1],
        "MAX30": win(h, 30).max() / c[-1],
        "QTLU20": np.quantile(win(c, 20), 0.8) / c[-1],
        "QTLD60": np.quantile(win(c, 60), 0.2) / c[-1],
        "RANK10": (np.sum(win(c, 10) < c[-1]) + (np.sum(win(c, 10) == c[-1]) + 1) / 2) / 10,
        "RSV20": (c[-1] - win(low, 20).min()) / (win(h, 20).max() - win(low, 20).min() + 1e-12),
        "IMAX30": (np.argmax(win(h, 30)) + 1) / 30,
        "IMXD10": ((np.argmax(win(h, 10)) + 1) - (np.argmin(win(low, 10)) + 1)) / 10,
        "CORR20": np.corrcoef(win(c, 20), np.log(win(v, 20) + 1))[0, 1],
        "CORD10": np.corrcoef(win(c[1:] / c[:-1], 10), np.log(win(v[1:] / v[:-1], 10) + 1))[0, 1],
        "CNTP60": np.mean(win(chg, 60) > 0),
        "SUMP10": np.clip(win(chg, 10), 0, None).sum() / (np.abs(win(chg, 10)).sum() + 1e-12),
        "VMA5": win(v, 5).mean() / (v[-1] + 1e-12),
        "WVMA10": (lambda m: m.std(ddof=1) / (m.mean() + 1e-12))(
            win(np.abs(c[1:] / c[:-1] - 1) * v[1:], 10)
        ),
        "VSUMD30": (
            np.clip(win(np.diff(v), 30), 0, None).sum()
            - np.clip(-win(np.diff(v), 30), 0, None).sum()
        )
        / (np.abs(win(np.diff(v), 30)).sum() + 1e-12),
    }
    return out


@pytest.mark.parametrize(("name", "day"), [("SH600000", 200), ("SH600000", 330), ("SZ300059", 300)])
def test_alpha158_matches_a_hand_computed_sample(
    bars: pl.DataFrame, alpha: pl.DataFrame, name: str, day: int
) -> None:
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = _hand(bars, name, day)
    row = alpha.filter(pl.col("instrument") == name).sort("date").row(day, named=True)
    for factor, value in expected.items():
        if np.isnan(value):  # e.g. a zero-volume day inside the window: missing, never a number
            assert row[factor] is None, factor
        else:
            assert row[factor] == pytest.approx(value, rel=1e-6, abs=1e-9), factor


def test_windows_never_mix_instruments_and_warm_up_is_missing(alpha: pl.DataFrame) -> None:
    first = alpha.filter(pl.col("instrument") == "SH600036").sort("date").head(60)
    assert first["MA60"].null_count() == 59
    assert first["ROC5"].null_count() == 5


def test_engine_caches_identical_requests(bars: pl.DataFrame) -> None:
    engine = FactorEngine()
    a = engine.compute(bars, {"m": "mean(close, 5)"})
    b = engine.compute(bars, {"m": "mean(close, 5)"})
    assert engine.hits == 1 and a is b
    engine.compute(bars.head(100), {"m": "mean(close, 5)"})
    assert engine.hits == 1


def test_disk_cache_survives_a_new_engine(bars: pl.DataFrame, tmp_path: Path) -> None:
    first = FactorEngine(cache_dir=tmp_path).compute(bars, {"m": "mean(close, 5)"})
    assert len(list(tmp_path.glob("factors-*.parquet"))) == 1
    fresh = FactorEngine(cache_dir=tmp_path)
    again = fresh.compute(bars, {"m": "mean(close, 5)"})
    assert fresh.hits == 1 and again.equals(first)
    other = fresh.compute(bars, {"m": "mean(close, 6)"})
    assert not other.equals(first) and len(list(tmp_path.glob("factors-*.parquet"))) == 2


def test_processors_learn_only_from_the_training_window() -> None:
    frame = pl.DataFrame(
        {
            "instrument": ["A", "B"] * 4,
            "date": [dt.date(2020, 1, d) for d in (1, 1, 2, 2, 3, 3, 4, 4)],
            "f": [1.0, 3.0, 1.0, 3.0, 100.0, 300.0, None, 5.0],
        }
    )
    chain = ProcessorChain([Winsorize(0.0, 1.0), ZScore(), FillNa()]).fit(
        frame, start=dt.date(2020, 1, 1), end=dt.date(2020, 1, 2)
    )
    out = chain.transform(frame)
    # Training saw only 1 and 3: mean 2, bounds [1, 3]; the later 100/300 are clipped to 3.
    assert out["f"].to_list()[:4] == pytest.approx(
        [-0.866025, 0.866025, -0.866025, 0.866025], rel=1e-5
    )
    assert out["f"].to_list()[4:6] == pytest.approx([0.866025, 0.866025], rel=1e-5)
    assert out["f"].to_list()[6] == 0.0
    with pytest.raises(Exception, match="no rows in the fit window"):
        ProcessorChain([ZScore()]).fit(frame, start=dt.date(2021, 1, 1), end=dt.date(2021, 2, 1))

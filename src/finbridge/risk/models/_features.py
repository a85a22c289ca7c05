"""Point-in-time features for whole histories at once (Polars), equal to the online engine's.

The online engine updates exact sliding windows one event at a time (:mod:`velocity`); replays,
backtests and model training need the same numbers for millions of events, so this module
computes them column-wise with Polars ``rolling_*_by`` over ``(t - span, t]`` windows. It uses the
very same integer formulas (sums of minor units and of their squares) as
the online windows (``decisions._velocity.finish``); a test replays a sample through both.

Timestamps: both paths use the same strictly increasing millisecond clock (``ts_ms``): events in
the same second are spread by their arrival order, so no two events of a history tie.

Delayed features (the fraud handbook's terminal risk): labels are only known after a feedback
delay, so the terminal's fraud rate uses the window ``(t - delay - span, t - delay]``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from finbridge.risk.decisions._velocity import parse_span
from finbridge.risk.rules._derived import DERIVED_NAMES, RATIOS, ZSCORE

DAY_MS = 86_400_000
CUSTOMER_WINDOWS = ("1h", "1d", "7d", "30d", "180d")
TERMINAL_WINDOWS = ("1d", "7d", "30d")
DELAY_DAYS = 7
RISK_WINDOWS_DAYS = (1, 7, 30)

MODEL_FEATURES: tuple[str, ...] = (
    "amount",
    "is_weekend",
    "is_night",
    "hour",
    "customer_count_1h",
    "customer_count_1d",
    "customer_count_7d",
    "customer_count_30d",
    "customer_avg_1d",
    "customer_avg_7d",
    "customer_avg_30d",
    "customer_avg_180d",
    "customer_std_7d",
    "customer_std_30d",
    "customer_std_180d",
    "customer_max_1d",
    "customer_max_7d",
    "customer_max_30d",
    *DERIVED_NAMES,
    "terminal_count_1d",
    "terminal_count_7d",
    "terminal_count_30d",
    "terminal_delayed_count_1d",
    "terminal_delayed_count_7d",
    "terminal_delayed_count_30d",
    "terminal_delayed_risk_1d",
    "terminal_delayed_risk_7d",
    "terminal_delayed_risk_30d",
)

# The handbook's Chapter 3 baseline features (for the logistic-regression baseline).
HANDBOOK_FEATURES: tuple[str, ...] = (
    "amount",
    "is_weekend",
    "is_night",
    "customer_count_1d",
    "customer_avg_1d",
    "customer_count_7d",
    "customer_avg_7d",
    "customer_count_30d",
    "customer_avg_30d",
    "terminal_delayed_count_1d",
    "terminal_delayed_risk_1d",
    "terminal_delayed_count_7d",
    "terminal_delayed_risk_7d",
    "terminal_delayed_count_30d",
    "terminal_delayed_risk_30d",
)


def load_handbook(path: str) -> pl.DataFrame:
    """The handbook's transactions with the columns the risk engine speaks."""
    df = pl.read_parquet(path).sort("TRANSACTION_ID")
    return prepare(df)


def prepare(df: pl.DataFrame) -> pl.DataFrame:
    """Rename handbook columns and derive the strictly increasing ``ts_ms`` clock."""
    sec = pl.col("TX_TIME_SECONDS")
    return (
        df.sort("TRANSACTION_ID")
        .with_columns(
            (sec * 1000 + pl.int_range(pl.len()).over(sec)).alias("ts_ms"),
            (pl.col("TX_AMOUNT") * 100).round(0).cast(pl.Int64).alias("amount_minor"),
        )
        .with_columns(
            pl.from_epoch("ts_ms", time_unit="ms").alias("ts"),
            pl.col("CUSTOMER_ID").cast(pl.Utf8).alias("customer"),
            pl.col("TERMINAL_ID").cast(pl.Utf8).alias("terminal"),
            pl.col("TX_FRAUD").cast(pl.Int8).alias("label"),
        )
    )


def _order(codes: np.ndarray, ts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sort by (entity, time); returns the permutation and the combined sort key."""
    rel = ts - ts.min()
    key = codes.astype(np.int64) * (1 << 42) + rel
    perm = np.argsort(key, kind="stable")
    return perm, key[perm]


def _starts(key: np.ndarray, span_ms: int) -> np.ndarray:
    """For each row, the first row of its entity with time > t - span: window = [start, i]."""
    return np.searchsorted(key, key - span_ms, side="right")


def entity_windows(
    codes: np.ndarray,
    ts_ms: np.ndarray,
    amount_minor: np.ndarray,
    entity: str,
    windows: Sequence[str],
    *,
    minmax: bool = True,
) -> dict[str, np.ndarray]:
    """Window features of one entity type for every row, in the rows' original order.

    The same integer formulas as ``velocity.finish``: exact sums of minor units and of their
    squares, one division at the end.
    """
    perm, key = _order(codes, ts_ms)
    a = np.ascontiguousarray(amount_minor[perm].astype(np.int64))
    spans = np.array([parse_span(w) for w in windows], np.int64)
    from finbridge.risk.models._kernels import window_kernel

    cnt, tot, sq, mins, maxs = window_kernel(key, a, spans, perm)
    out: dict[str, np.ndarray] = {}
    for k, w in enumerate(windows):
        n, s, ss = cnt[k], tot[k], sq[k]
        out[f"{entity}_count_{w}"] = n.astype(np.float64)
        out[f"{entity}_sum_{w}"] = s / 100
        out[f"{entity}_avg_{w}"] = s / (n * 100)
        out[f"{entity}_std_{w}"] = np.sqrt((n * ss - s * s).astype(np.float64)) / (n * 100)
        if minmax:
            out[f"{entity}_min_{w}"] = mins[k] / 100
            out[f"{entity}_max_{w}"] = maxs[k] / 100
    return out


def delayed_rates(
    codes: np.ndarray,
    ts_ms: np.ndarray,
    labels: np.ndarray,
    entity: str = "terminal",
    delay_days: int = DELAY_DAYS,
    windows_days: Sequence[int] = RISK_WINDOWS_DAYS,
) -> dict[str, np.ndarray]:
    """Counts and fraud rates over ``(t - delay - w, t - delay]`` (the handbook's protocol)."""
    perm, key = _order(codes, ts_ms)
    cf = np.concatenate(([0], np.cumsum(labels[perm].astype(np.int64))))
    lo_delay = _starts(key, delay_days * DAY_MS)
    out: dict[str, np.ndarray] = {}
    for w in windows_days:
        lo = _starts(key, (delay_days + w) * DAY_MS)
        n = lo_delay - lo
        f = cf[lo_delay] - cf[lo]
        risk = np.divide(f, n, out=np.zeros(len(n), np.float64), where=n > 0)
        for name, values in (
            (f"{entity}_delayed_count_{w}d", n.astype(np.float64)),
            (f"{entity}_delayed_risk_{w}d", risk),
        ):
            back = np.empty_like(values)
            back[perm] = values
            out[name] = back
    return out


def model_frame(df: pl.DataFrame, business_offset_h: int = 0) -> pl.DataFrame:
    """Every model feature for every row (``df`` from :func:`prepare`)."""
    ts = df["ts_ms"].to_numpy()
    amount = df["amount_minor"].to_numpy()
    cust = df["customer"].cast(pl.Categorical).to_physical().to_numpy()
    term = df["terminal"].cast(pl.Categorical).to_physical().to_numpy()
    cols = entity_windows(cust, ts, amount, "customer", CUSTOMER_WINDOWS)
    cols |= entity_windows(term, ts, amount, "terminal", TERMINAL_WINDOWS, minmax=False)
    cols |= delayed_rates(term, ts, df["label"].to_numpy())
    out = df.with_columns(pl.Series(name, values) for name, values in cols.items())
    local = pl.col("ts") + pl.duration(hours=business_offset_h)
    # numpy divides exactly like Python; Polars turns "/ 100" into "* 0.01" (off by an ulp).
    out = out.with_columns(pl.Series("amount", amount / 100))
    return out.with_columns(
        (local.dt.weekday() >= 6).cast(pl.Float64).alias("is_weekend"),
        (local.dt.hour() < 6).cast(pl.Float64).alias("is_night"),
        local.dt.hour().cast(pl.Float64).alias("hour"),
        *[
            pl.when(pl.col(den) > 0).then(pl.col(num) / pl.col(den)).otherwise(0.0).alias(name)
            for name, num, den in RATIOS
        ],
        pl.when(pl.col(ZSCORE[3]) > 0)
        .then((pl.col(ZSCORE[1]) - pl.col(ZSCORE[2])) / pl.col(ZSCORE[3]))
        .otherwise(0.0)
        .alias(ZSCORE[0]),
    ).sort("ts_ms")

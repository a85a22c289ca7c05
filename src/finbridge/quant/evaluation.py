"""Signal evaluation: IC, rank IC, ICIR, IC decay, long-short and top-k returns."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

KEYS = ("instrument", "date")


def ic_series(
    scores: pl.DataFrame, labels: pl.DataFrame, *, score: str = "score", label: str = "label"
) -> pl.DataFrame:
    """Per-date Pearson IC and Spearman rank IC between score and label."""
    joined = scores.join(labels.select(*KEYS, label), on=list(KEYS), how="inner").filter(
        pl.col(score).is_finite() & pl.col(label).is_finite()
    )
    return (
        joined.group_by("date")
        .agg(
            ic=pl.corr(score, label),
            rank_ic=pl.corr(score, label, method="spearman"),
            n=pl.len(),
        )
        .filter(pl.col("n") >= 5)
        .sort("date")
    )


@dataclass(frozen=True)
class SignalReport:
    ic: float
    icir: float
    rank_ic: float
    rank_icir: float
    n_days: int

    def as_dict(self) -> dict[str, float]:
        return {
            "IC": self.ic,
            "ICIR": self.icir,
            "Rank IC": self.rank_ic,
            "Rank ICIR": self.rank_icir,
            "days": float(self.n_days),
        }


def _ratio(mean: float | None, std: float | None) -> float:
    if mean is None or std is None or std == 0 or math.isnan(std):
        return float("nan")
    return mean / std


def summarize(ics: pl.DataFrame) -> SignalReport:
    ic = ics["ic"].drop_nans().drop_nulls()
    ric = ics["rank_ic"].drop_nans().drop_nulls()
    return SignalReport(
        ic=float(ic.mean() or float("nan")),  # type: ignore[arg-type]
        icir=_ratio(ic.mean(), ic.std()),  # type: ignore[arg-type]
        rank_ic=float(ric.mean() or float("nan")),  # type: ignore[arg-type]
        rank_icir=_ratio(ric.mean(), ric.std()),  # type: ignore[arg-type]
        n_days=ics.height,
    )


def forward_returns(bars: pl.DataFrame, horizons: Sequence[int]) -> pl.DataFrame:
    """Return from the next close to the close ``h`` days after it (trade at t+1)."""
    data = bars.sort(*KEYS)
    nxt = pl.col("close").shift(-1).over("instrument")
    return data.select(
        *KEYS,
        *[
            (pl.col("close").shift(-1 - h).over("instrument") / nxt - 1).alias(f"r{h}")
            for h in horizons
        ],
    )


def ic_decay(
    scores: pl.DataFrame, bars: pl.DataFrame, horizons: Sequence[int] = (1, 2, 5, 10, 20)
) -> pl.DataFrame:
    """Mean IC of today's score against returns over longer horizons."""
    fwd = forward_returns(bars, horizons)
    rows = []
    for h in horizons:
        rep = summarize(ic_series(scores, fwd.rename({f"r{h}": "label"}).select(*KEYS, "label")))
        rows.append({"horizon": h, "ic": rep.ic, "rank_ic": rep.rank_ic})
    return pl.DataFrame(rows)


def quantile_returns(
    scores: pl.DataFrame, labels: pl.DataFrame, *, top_k: int = 50, quantiles: int = 5
) -> pl.DataFrame:
    """Per date: long-short (top minus bottom quantile), top-k and universe mean label return."""
    joined = scores.join(labels.select(*KEYS, "label"), on=list(KEYS), how="inner").filter(
        pl.col("score").is_finite() & pl.col("label").is_finite()
    )
    ranked = joined.with_columns(
        pct=pl.col("score").rank("ordinal").over("date") / pl.len().over("date"),
        order=pl.col("score").rank("ordinal", descending=True).over("date"),
    )
    q = 1.0 / quantiles
    return (
        ranked.group_by("date")
        .agg(
            long=pl.col("label").filter(pl.col("pct") > 1 - q).mean(),
            short=pl.col("label").filter(pl.col("pct") <= q).mean(),
            topk=pl.col("label").filter(pl.col("order") <= top_k).mean(),
            market=pl.col("label").mean(),
        )
        .with_columns(long_short=pl.col("long") - pl.col("short"))
        .sort("date")
    )

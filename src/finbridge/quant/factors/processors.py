"""Feature processors. Stateful ones learn only from the training window given to ``fit``.

``Winsorize`` and ``ZScore`` learn per-feature bounds / moments from the rows passed to ``fit``
(the training window) and apply them unchanged later; ``CSZScore`` and ``CSRankNorm`` use only
the same date's cross-section, so they need no fitting and cannot leak; ``FillNa`` fills with a
constant or with the training medians.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

import polars as pl

from finbridge.core.errors import ValidationError

KEYS = ("instrument", "date")


def _features(frame: pl.DataFrame, exclude: Sequence[str]) -> list[str]:
    return [c for c in frame.columns if c not in KEYS and c not in exclude]


class Processor(Protocol):
    def fit(self, frame: pl.DataFrame) -> Processor: ...

    def transform(self, frame: pl.DataFrame) -> pl.DataFrame: ...


@dataclass
class Winsorize:
    lower: float = 0.01
    upper: float = 0.99
    exclude: tuple[str, ...] = ("label",)
    bounds_: dict[str, tuple[float, float]] = field(default_factory=dict)

    def fit(self, frame: pl.DataFrame) -> Winsorize:
        if not 0 <= self.lower < self.upper <= 1:
            raise ValidationError("need 0 <= lower < upper <= 1", field="winsorize")
        cols = _features(frame, self.exclude)
        row = frame.select(
            *[pl.col(c).quantile(self.lower).alias(f"{c}__lo") for c in cols],
            *[pl.col(c).quantile(self.upper).alias(f"{c}__hi") for c in cols],
        ).row(0, named=True)
        self.bounds_ = {c: (row[f"{c}__lo"], row[f"{c}__hi"]) for c in cols}
        return self

    def transform(self, frame: pl.DataFrame) -> pl.DataFrame:
        return frame.with_columns(
            pl.col(c).clip(lo, hi) for c, (lo, hi) in self.bounds_.items() if lo is not None
        )


@dataclass
class ZScore:
    exclude: tuple[str, ...] = ("label",)
    moments_: dict[str, tuple[float, float]] = field(default_factory=dict)

    def fit(self, frame: pl.DataFrame) -> ZScore:
        cols = _features(frame, self.exclude)
        row = frame.select(
            *[pl.col(c).mean().alias(f"{c}__m") for c in cols],
            *[pl.col(c).std().alias(f"{c}__s") for c in cols],
        ).row(0, named=True)
        self.moments_ = {c: (row[f"{c}__m"] or 0.0, row[f"{c}__s"] or 1.0) for c in cols}
        return self

    def transform(self, frame: pl.DataFrame) -> pl.DataFrame:
        return frame.with_columns(
            ((pl.col(c) - m) / (s if s > 0 else 1.0)) for c, (m, s) in self.moments_.items()
        )


@dataclass
class CSZScore:
    """Per-date cross-sectional z-score (stateless)."""

    columns: tuple[str, ...] | None = None
    exclude: tuple[str, ...] = ()

    def fit(self, frame: pl.DataFrame) -> CSZScore:
        return self

    def transform(self, frame: pl.DataFrame) -> pl.DataFrame:
        cols = list(self.columns or _features(frame, self.exclude))
        return frame.with_columns(
            ((pl.col(c) - pl.col(c).mean().over("date")) / pl.col(c).std().over("date")).alias(c)
            for c in cols
        )


@dataclass
class CSRankNorm:
    """Per-date rank mapped to [-0.5, 0.5] (Qlib's CSRankNorm without the Gaussian scaling)."""

    columns: tuple[str, ...] | None = None
    exclude: tuple[str, ...] = ()

    def fit(self, frame: pl.DataFrame) -> CSRankNorm:
        return self

    def transform(self, frame: pl.DataFrame) -> pl.DataFrame:
        cols = list(self.columns or _features(frame, self.exclude))
        return frame.with_columns(
            (pl.col(c).rank("average").over("date") / pl.col(c).count().over("date") - 0.5).alias(c)
            for c in cols
        )


@dataclass
class FillNa:
    strategy: Literal["zero", "median"] = "zero"
    exclude: tuple[str, ...] = ("label",)
    values_: dict[str, float] = field(default_factory=dict)

    def fit(self, frame: pl.DataFrame) -> FillNa:
        cols = _features(frame, self.exclude)
        if self.strategy == "zero":
            self.values_ = dict.fromkeys(cols, 0.0)
        else:
            row = frame.select(pl.col(c).median() for c in cols).row(0, named=True)
            self.values_ = {c: (row[c] if row[c] is not None else 0.0) for c in cols}
        return self

    def transform(self, frame: pl.DataFrame) -> pl.DataFrame:
        return frame.with_columns(
            pl.col(c).fill_nan(None).fill_null(v) for c, v in self.values_.items()
        )


@dataclass
class ProcessorChain:
    """Fit every step on the training window only, then transform any window."""

    steps: list[Processor]
    fit_end_: dt.date | None = None

    def fit(self, frame: pl.DataFrame, *, start: dt.date, end: dt.date) -> ProcessorChain:
        train = frame.filter(pl.col("date").is_between(start, end))
        if train.is_empty():
            raise ValidationError(f"no rows in the fit window {start}..{end}", field="fit_window")
        for step in self.steps:
            step.fit(train)
            train = step.transform(train)
        self.fit_end_ = end
        return self

    def transform(self, frame: pl.DataFrame) -> pl.DataFrame:
        if self.fit_end_ is None:
            raise ValidationError("processor chain is not fitted", field="processors")
        for step in self.steps:
            frame = step.transform(frame)
        return frame

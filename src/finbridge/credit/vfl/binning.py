"""Local feature binning for vertical learning: each party bins only its own columns.

Quantile edges are fitted on the party's own training rows and never leave it; only bin
indices (small integers) are used by the protocols, and those stay local too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from finbridge.core.errors import ValidationError

MAX_BINS = 16


@dataclass
class QuantileBinner:
    """Numeric columns to at most ``max_bins`` quantile bins; missing values get the last bin."""

    max_bins: int = MAX_BINS
    columns_: list[str] = field(default_factory=list)
    edges_: list[np.ndarray] = field(default_factory=list)

    def fit(self, frame: pd.DataFrame) -> QuantileBinner:
        if frame.shape[1] == 0:
            raise ValidationError("no feature columns to bin", field="columns")
        self.columns_ = [str(c) for c in frame.columns]
        self.edges_ = []
        qs = np.linspace(0, 1, self.max_bins)[1:-1]
        for col in frame.columns:
            values = pd.to_numeric(frame[col], errors="coerce").to_numpy(float)
            if np.isnan(values).all():
                raise ValidationError(f"column {col!r} is all null", field=str(col))
            self.edges_.append(np.unique(np.nanquantile(values, qs)))
        return self

    @property
    def n_bins(self) -> list[int]:
        return [len(e) + 2 for e in self.edges_]  # + the missing-value bin

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        missing = [c for c in self.columns_ if c not in frame.columns]
        if missing:
            raise ValidationError(f"missing feature columns: {missing}", field=missing[0])
        out = np.empty((len(frame), len(self.columns_)), dtype=np.int16)
        for j, (col, edges) in enumerate(zip(self.columns_, self.edges_, strict=True)):
            values = pd.to_numeric(frame[col], errors="coerce").to_numpy(float)
            idx = np.searchsorted(edges, values, side="right")
            idx[np.isnan(values)] = len(edges) + 1
            out[:, j] = idx
        return out

    def one_hot(self, bins: np.ndarray) -> np.ndarray:
        """Indicator matrix of the bins (for the logistic-regression protocol)."""
        width = sum(self.n_bins)
        out = np.zeros((bins.shape[0], width), dtype=np.float64)
        start = 0
        for j, nb in enumerate(self.n_bins):
            out[np.arange(bins.shape[0]), start + bins[:, j]] = 1.0
            start += nb
        return out

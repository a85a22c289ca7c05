"""Where the retraining job reads labelled, point-in-time history: a seam.

``LabelledHistory.labelled(as_of, since)`` answers the transactions of ``[since, as_of)`` with
their model features as they were at each transaction and the fraud labels *known at*
``as_of``, nothing later. ``HandbookHistory`` fills it from a handbook-layout file through the
risk engine's own point-in-time path (``models.prepare`` + ``model_frame``), labels becoming
known ``label_delay_days`` after the transaction (the handbook's feedback delay). The feature
store's ``training_set`` (issue 19, in progress) is meant to fill the same seam.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

import polars as pl

from finbridge.core.errors import ValidationError


class LabelledHistory(Protocol):
    def labelled(self, as_of: datetime, since: datetime) -> pl.DataFrame:
        """Rows of ``[since, as_of)`` whose label is known at ``as_of``; columns: the model's
        features, ``TX_DATETIME``, ``TX_TIME_DAYS``, ``CUSTOMER_ID``, ``TX_FRAUD``."""
        ...


class HandbookHistory:
    """Labelled history from a handbook-layout frame (features computed once, on all rows)."""

    def __init__(self, frame: pl.DataFrame, *, label_delay_days: int = 7) -> None:
        if not 0 <= label_delay_days <= 365:
            raise ValidationError("label_delay_days must be 0-365", field="label_delay_days")
        from finbridge.risk.models import model_frame, prepare

        self.delay = timedelta(days=label_delay_days)
        self.features = model_frame(prepare(frame))

    @classmethod
    def from_file(
        cls, path: Path, *, until: datetime | None = None, label_delay_days: int = 7
    ) -> HandbookHistory:
        """A handbook-layout Parquet file (rows before ``until`` only, if given)."""
        if not path.is_file():
            raise ValidationError(f"no transaction file at {path}", field="data")
        frame = pl.read_parquet(path)
        if "TX_TIME_SECONDS" not in frame.columns:
            # The handbook's simulator clock (seconds and days since its first midnight), for
            # slices that kept only the timestamp.
            midnight = frame["TX_DATETIME"].dt.truncate("1d").min()
            seconds = (pl.col("TX_DATETIME") - pl.lit(midnight)).dt.total_seconds()
            frame = frame.with_columns(
                seconds.alias("TX_TIME_SECONDS"), (seconds // 86_400).alias("TX_TIME_DAYS")
            )
        if until is not None:
            frame = frame.filter(pl.col("TX_DATETIME") < until)
        return cls(frame, label_delay_days=label_delay_days)

    @property
    def span(self) -> tuple[datetime, datetime]:
        first, last = self.features["TX_DATETIME"].min(), self.features["TX_DATETIME"].max()
        return first, last  # type: ignore[return-value]

    def labelled(self, as_of: datetime, since: datetime) -> pl.DataFrame:
        # A transaction's label is known one feedback delay after it happened.
        when = pl.col("TX_DATETIME")
        return self.features.filter((when >= since) & (when + self.delay <= as_of))

    def window(self, start: datetime, end: datetime) -> pl.DataFrame:
        """Every transaction of ``[start, end)`` with its label (for scoring live traffic
        after the fact, as an evaluation does; never for training)."""
        when = pl.col("TX_DATETIME")
        return self.features.filter((when >= start) & (when < end))

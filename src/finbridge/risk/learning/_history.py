"""Where the retraining job reads labelled, point-in-time history: a seam.

``LabelledHistory.labelled(as_of, since)`` answers the transactions of ``[since, as_of)`` with
their model features as they were at each transaction and the fraud labels *known at*
``as_of``, nothing later. ``HandbookHistory`` fills it from a handbook-layout file through the
risk engine's own point-in-time path (``models.prepare`` + ``model_frame``), labels becoming
known ``label_delay_days`` after the transaction (the handbook's feedback delay).
``FeatureStoreHistory`` is the one the retraining job uses: each payment's model features are
materialised once into the feature store (``lake.featurestore.fraud_transaction_view``), and
the labels known at ``as_of`` are joined with them point in time by the store's
``training_set`` (a verdict only sees features stamped strictly before it became known).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import polars as pl

from finbridge.core.errors import ValidationError

if TYPE_CHECKING:
    from finbridge.lake.featurestore import FeatureStore, Materialisation

# What a label row carries besides its verdict: the payment it judges, for the retraining's
# windows and card precision (per day, per card).
LABEL_COLUMNS = ("transaction_id", "TX_DATETIME", "TX_TIME_DAYS", "CUSTOMER_ID", "TX_FRAUD")


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

    def labels(self) -> pl.DataFrame:
        """Every payment's verdict with ``label_time``, the instant it became known (one
        feedback delay after the payment), in the features' order."""
        return self.features.select(
            pl.col("TRANSACTION_ID").cast(pl.Utf8).alias("transaction_id"),
            (pl.col("TX_DATETIME") + self.delay).alias("label_time"),
            *LABEL_COLUMNS[1:],
        )

    def publish(self, store: FeatureStore, *, until: datetime) -> Materialisation:
        """Materialise each payment's model features before ``until`` into the store's
        fraud view (quality-checked; the snapshot replaces the last one)."""
        import ibis

        from finbridge.lake.featurestore import FRAUD_VIEW

        view = store.registry.get(FRAUD_VIEW)
        frame = self.features.select(
            pl.col("TRANSACTION_ID").cast(pl.Utf8).alias("transaction_id"),
            pl.col("TX_DATETIME").dt.replace_time_zone("UTC").alias("occurred_at"),
            *view.feature_names,
        )
        table = ibis.duckdb.connect().create_table("payments", frame.to_arrow())
        return store.materialize(FRAUD_VIEW, table, until=_utc(until))

    def window(self, start: datetime, end: datetime) -> pl.DataFrame:
        """Every transaction of ``[start, end)`` with its label (for scoring live traffic
        after the fact, as an evaluation does; never for training)."""
        when = pl.col("TX_DATETIME")
        return self.features.filter((when >= start) & (when < end))


def _utc(when: datetime) -> datetime:
    from datetime import UTC

    # The handbook's clock is naive UTC; the store speaks aware instants.
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


class FeatureStoreHistory:
    """Labelled history read from the feature store: ``labels`` (one row per verdict:
    ``label_time`` and :data:`LABEL_COLUMNS`, naive UTC like the handbook) joined point in
    time with the fraud view's materialisation."""

    def __init__(self, store: FeatureStore, labels: pl.DataFrame) -> None:
        from finbridge.lake.featurestore import FRAUD_VIEW

        missing = [c for c in ("label_time", *LABEL_COLUMNS) if c not in labels.columns]
        if missing:
            raise ValidationError(f"the labels have no {missing[0]!r} column", field=missing[0])
        self.store = store
        self.view = store.registry.get(FRAUD_VIEW)
        self.labels = labels

    def labelled(self, as_of: datetime, since: datetime) -> pl.DataFrame:
        naive = _utc(as_of).replace(tzinfo=None)
        known = self.labels.filter(
            (pl.col("label_time") <= naive) & (pl.col("TX_DATETIME") >= since)
        ).with_columns(pl.col("label_time").dt.replace_time_zone("UTC"))
        if known.height == 0:
            return known.with_columns(pl.lit(None, pl.Float64).alias(n) for n in self.names)
        joined = self.store.training_set(known.to_arrow(), [self.view.name])
        out = pl.from_arrow(joined)
        assert isinstance(out, pl.DataFrame)
        # A verdict whose payment has no features (not materialised yet, or older than the
        # view's TTL) cannot be learned from: refused, never filled with zeros or dropped.
        bare = out.filter(pl.any_horizontal(pl.col(self.names).is_null())).height
        if bare:
            last = self.store.last_materialisation(self.view)
            until = last.until.isoformat() if last else "never"
            raise ValidationError(
                f"{bare} of {out.height} verdicts known at {as_of} have no features in "
                f"{self.view.ref} (materialised until {until}): materialise it first",
                field="as_of",
            )
        return out.with_columns(pl.col("TX_DATETIME").cast(self.labels["TX_DATETIME"].dtype))

    @property
    def names(self) -> list[str]:
        return self.view.feature_names

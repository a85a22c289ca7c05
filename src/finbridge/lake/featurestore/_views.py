"""The feature views finbridge ships: card spending from the lake, the handbook's customer
spending profile (20 features) that the benchmark uses, and the fraud model's per-transaction
features that the risk engine's training sets are joined from."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from finbridge.lake.features import AMOUNT, exact_mean, spend_rows
from finbridge.lake.featurestore._definitions import Feature, FeatureView, SourceFn, trailing

UTC_TIME = dt.Timestamp(timezone="UTC")
WINDOWS_DAYS: tuple[int, ...] = (1, 7, 30)
PROFILE_WINDOWS_DAYS: tuple[int, ...] = (1, 7, 30, 90)


def _lake_spend(currency: str) -> SourceFn:
    def source(events: ir.Table) -> ir.Table:
        t = spend_rows(events)
        t = t.filter(t.currency == currency)
        return t.select("customer_id", "amount", event_time=t.occurred_at.cast(UTC_TIME))

    return source


def _window_features(
    entity: str, windows: Sequence[int], hows: Sequence[str], scale: int
) -> tuple[Feature, ...]:
    features: list[Feature] = []
    for days in windows:
        for how in hows:

            def expr(rows: ir.Table, days: int = days, how: str = how) -> ir.Value:
                w = trailing(rows, entity, days)
                if how == "count":
                    return rows.amount.count().over(w)
                if how == "avg":
                    # Exact and engine-independent (DuckDB means decimals through a double).
                    units = (rows.amount * 10**scale).cast("int64").sum().over(w)
                    return exact_mean(units, rows.amount.count().over(w), scale)
                value = getattr(rows.amount, how)().over(w)
                return value.cast(dt.Decimal(38, scale))

            features.append(
                Feature(f"spend_{how}_{days}d", expr, f"card spend {how} over the last {days} days")
            )
    return tuple(features)


def card_spend_view(currency: str = "TWD", *, version: int = 1) -> FeatureView:
    """Per customer, card spend in ``currency`` (partner purchases and ledger card payments)
    over 1/7/30 days: count, sum and maximum, from the lake's events."""
    return FeatureView(
        name="card_spend",
        entity="customer_id",
        source=_lake_spend(currency),
        features=_window_features(
            "customer_id", WINDOWS_DAYS, ("count", "sum", "max"), AMOUNT.scale
        ),
        ttl=timedelta(days=30),
        owner="risk",
        version=version,
        description=f"card spend in {currency} from card.transaction and transaction.posted",
        tags={"currency": currency, "source": "lake events"},
    )


def _transactions(table: ir.Table) -> ir.Table:
    # A transactions table (customer_id, occurred_at, amount): the handbook layout, renamed.
    return table.select(
        customer_id=table.customer_id.cast("string"),
        event_time=table.occurred_at.cast(UTC_TIME),
        amount=table.amount.cast(dt.Decimal(20, 2)),
    )


def spend_profile_view(*, version: int = 1) -> FeatureView:
    """Per customer, 20 spending features (count, sum, average, maximum, minimum over 1, 7, 30
    and 90 days) from a card transactions table (``customer_id``, ``occurred_at``, ``amount``):
    the risk model's customer profile on the Fraud Detection Handbook's data."""
    return FeatureView(
        name="spend_profile",
        entity="customer_id",
        source=_transactions,
        features=_window_features(
            "customer_id",
            PROFILE_WINDOWS_DAYS,
            ("count", "sum", "avg", "max", "min"),
            2,
        ),
        ttl=timedelta(days=90),
        owner="risk",
        version=version,
        description="customer spending profile over card transactions (handbook layout)",
        tags={"source": "card transactions table"},
    )


# A chargeback can arrive up to 540 days after the payment (the longest card-scheme window):
# a label known later than that gets no features, and says so by its nulls.
FRAUD_TTL = timedelta(days=540)
FRAUD_VIEW = "fraud_transaction"


def _decided(features: Sequence[str]) -> SourceFn:
    def source(table: ir.Table) -> ir.Table:
        return table.select(
            transaction_id=table.transaction_id.cast("string"),
            event_time=table.occurred_at.cast(UTC_TIME),
            **{name: table[name].cast("float64") for name in features},
        )

    return source


def _column(name: str) -> Feature:
    def expr(rows: ir.Table) -> ir.Value:
        return rows[name]

    return Feature(name, expr, f"the fraud model's {name} at the decision's instant")


def fraud_transaction_view(features: Sequence[str], *, version: int = 1) -> FeatureView:
    """Per payment, the fraud model's ``features`` as the decision engine knew them at the
    payment's instant, from a table (``transaction_id``, ``occurred_at``, the features).

    The values come from the risk engine's one point-in-time path (``risk.models.model_frame``,
    tested equal to its online velocity windows): windowing them again here would be a third
    copy of the same windows. The store owns the view (names, entity, TTL, owner, version),
    its quality-checked snapshot and the point-in-time join that builds every training set.
    Labels join with ``label_time`` = the instant the verdict became known, so a verdict is
    only ever joined with features stamped strictly before it.
    """
    return FeatureView(
        name=FRAUD_VIEW,
        entity="transaction_id",
        source=_decided(features),
        features=tuple(_column(name) for name in features),
        ttl=FRAUD_TTL,
        owner="risk",
        version=version,
        description="the fraud model's inputs per payment, as of its decision",
        tags={"source": "risk point-in-time features"},
    )


def default_views(currency: str = "TWD") -> list[FeatureView]:
    return [card_spend_view(currency), spend_profile_view()]

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


def _recorded(entity: str, features: Sequence[str]) -> SourceFn:
    def source(table: ir.Table) -> ir.Table:
        return table.select(
            **{entity: table[entity].cast("string")},
            event_time=table.occurred_at.cast(UTC_TIME),
            **{name: table[name].cast("float64") for name in features},
        )

    return source


def _column(name: str, owner: str) -> Feature:
    def expr(rows: ir.Table) -> ir.Value:
        return rows[name]

    return Feature(name, expr, f"{owner}'s {name} as recorded at the instant")


def recorded_view(
    name: str,
    entity: str,
    features: Sequence[str],
    *,
    owner: str,
    ttl: timedelta,
    description: str,
    version: int = 1,
) -> FeatureView:
    """A view of values an engine recorded per ``entity`` at an instant, from a table
    (``entity``, ``occurred_at``, the features): the store keeps, checks and joins them; the
    engine's own single definition computes them (Feast's batch-source views work so)."""
    return FeatureView(
        name=name,
        entity=entity,
        source=_recorded(entity, features),
        features=tuple(_column(f, owner) for f in features),
        ttl=ttl,
        owner=owner,
        version=version,
        description=description,
        tags={"source": f"{owner} recorded values"},
    )


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
    return recorded_view(
        FRAUD_VIEW, "transaction_id", features, owner="risk", ttl=FRAUD_TTL, version=version,
        description="the fraud model's inputs per payment, as of its decision",
    )  # fmt: skip


# A customer's recorded credit attributes (a month's statement, repayment status) are stale
# after two statements: a label that old gets no features rather than outdated ones.
CREDIT_TTL = timedelta(days=62)
CREDIT_VIEW = "credit_profile"


def credit_profile_view(
    features: Sequence[str], *, version: int = 1, name: str = CREDIT_VIEW
) -> FeatureView:
    """Per customer, the attributes the credit engine scores (``features``) as recorded at
    each instant (an application, a month's statement), from a table (``customer_id``,
    ``occurred_at``, the features). Labels join at the instant the score was made, so a
    default label only ever sees attributes recorded before that score. ``name``: a model's
    own view (``credit.recorded`` names one per model, as each learns its own columns)."""
    return recorded_view(
        name, "customer_id", features, owner="credit", ttl=CREDIT_TTL, version=version,
        description="the scorecard's inputs per customer, as recorded over time",
    )  # fmt: skip


def default_views(currency: str = "TWD") -> list[FeatureView]:
    return [card_spend_view(currency), spend_profile_view()]

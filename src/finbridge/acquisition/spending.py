"""Spending RFM for profiles, written with Ibis on the lake's spend rule: DuckDB here, Spark at
scale (the same expression on :func:`finbridge.lake.features.spark_events`).

Per customer and currency, as of an instant (events strictly before it, so a replay gives the
same answer): recency (the last card spend), frequency (spends in the window) and monetary
(their sum, decimal). What counts as spend is the lake's one rule (:func:`spend_rows`): a
partner-reported card purchase or a card payment on our own ledger.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from finbridge.core.errors import ValidationError

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from finbridge.lake import EventLake

RFM_WINDOW_DAYS = 90
_IN_LIST = 1000  # above this many customers, no IN list in the SQL: filtered after the read


@dataclass(frozen=True)
class Spending:
    currency: str
    last_spend: datetime
    frequency: int
    monetary: Decimal

    def recency_days(self, as_of: datetime) -> float:
        return round((as_of - self.last_spend).total_seconds() / 86_400, 4)


def spending_rfm(events: ir.Table, as_of: datetime, window_days: int = RFM_WINDOW_DAYS) -> ir.Table:
    """One row per (customer_id, currency): ``last_spend``, ``frequency``, ``monetary`` over
    the ``window_days`` before ``as_of`` (exclusive)."""
    from finbridge.lake.features import spend_rows

    if as_of.tzinfo is None:
        raise ValidationError("as_of needs a time zone", field="as_of")
    as_of = as_of.astimezone(UTC)
    start = as_of - timedelta(days=window_days)
    t = spend_rows(events.filter((events.occurred_at < as_of) & (events.occurred_at >= start)))
    return t.group_by(["customer_id", "currency"]).aggregate(
        last_spend=t.occurred_at.max(), frequency=t.count(), monetary=t.amount.sum()
    )


def spending_of(
    lake: EventLake, as_of: datetime, customer_ids: Collection[str]
) -> dict[str, list[Spending]]:
    """:func:`spending_rfm` on the local lake (DuckDB) for these customers."""
    from finbridge.lake.features import duckdb_events

    if not customer_ids:
        return {}
    wanted = set(customer_ids)
    expr = spending_rfm(duckdb_events(lake), as_of)
    if len(wanted) <= _IN_LIST:
        expr = expr.filter(expr.customer_id.isin(sorted(wanted)))
    out: dict[str, list[Spending]] = {}
    for row in expr.to_pyarrow().to_pylist():
        if row["customer_id"] not in wanted:
            continue  # a refresh of thousands reads everyone's RFM and keeps its own
        last = row["last_spend"]
        last = last if last.tzinfo is not None else last.replace(tzinfo=UTC)
        spend = Spending(row["currency"], last, int(row["frequency"]), Decimal(row["monetary"]))
        out.setdefault(row["customer_id"], []).append(spend)
    return out

"""Feature pipelines, written once with Ibis: DuckDB on one machine, Spark at scale.

:func:`card_spend_features` is the first one: per customer and currency, the count, sum, average
and maximum of card purchases over trailing 1/7/30-day windows, as of a given instant. It is
point-in-time correct: only events that occurred strictly before ``as_of`` are seen, so the same
call replayed later (or in a backtest) gives the same numbers.

The input is the lake's event table (envelope columns, payload as canonical JSON). The payload
fields are read with regular expressions rather than Ibis' JSON operations because those are
not portable (on PySpark they run as Python UDFs that fail on string payloads); the lake writes
payloads in one canonical spelling (sorted keys, no spaces) and ``card.transaction`` fields are
restricted to characters that need no JSON escaping, so the patterns are exact.

Money stays decimal end to end: amounts are ``decimal(20, 4)``, sums ``decimal(38, 4)``, and the
average is the decimal sum over the count rounded to 4 places, identical on both engines.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pyarrow as pa

from finbridge.lake.eventlake import EVENTS_DIR, EventLake

SPEND_WINDOWS_DAYS: tuple[int, ...] = (1, 7, 30)
AMOUNT = dt.Decimal(20, 4)
CARD_EVENT = "card.transaction"


def _field(payload: ir.StringValue, name: str, chars: str) -> ir.StringValue:
    return payload.re_extract(rf'"{name}":"({chars})"', 1)


def card_spend_features(
    events: ir.Table, as_of: datetime, windows: Sequence[int] = SPEND_WINDOWS_DAYS
) -> ir.Table:
    """Per-customer spending aggregates over trailing windows, as of ``as_of`` (exclusive).

    ``events`` needs the lake columns ``event_id``, ``event_type``, ``schema_version``,
    ``occurred_at`` and ``payload``. Returns one row per (customer_id, currency) with purchases
    in the longest window, columns ``spend_{count,sum,avg,max}_{N}d`` for each window; sums are 0
    and avg/max are null for a window without purchases.
    """
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    if not windows or any(w < 1 for w in windows):
        raise ValueError("windows must be positive day counts")
    as_of = as_of.astimezone(UTC)
    start = as_of - timedelta(days=max(windows))

    t = events.filter(
        (events.event_type == CARD_EVENT)
        & (events.schema_version == 1)
        & (events.occurred_at < as_of)
        & (events.occurred_at >= start)
    )
    # The lake may hold one event in two files after a retried write: keep one row per id.
    first = ibis.row_number().over(group_by=t.event_id, order_by=t.occurred_at)
    t = t.mutate(_n=first).filter(lambda x: x._n == 0).drop("_n")
    t = t.mutate(
        customer_id=_field(t.payload, "customer_id", r"[^\"]+"),
        currency=_field(t.payload, "currency", "[A-Z]{3}"),
        amount=_field(t.payload, "amount", r"[0-9.]+").cast(AMOUNT),
        kind=_field(t.payload, "kind", "[a-z]+"),
    ).filter(lambda x: x.kind == "purchase")

    aggs: dict[str, Any] = {}
    for days in sorted(windows):
        inside = t.occurred_at >= as_of - timedelta(days=days)
        amount = ibis.ifelse(inside, t.amount, ibis.null(AMOUNT))
        count = inside.cast("int64").sum()
        total = amount.sum()
        aggs[f"spend_count_{days}d"] = count
        aggs[f"spend_sum_{days}d"] = total.coalesce(ibis.literal(0, AMOUNT)).cast(dt.Decimal(38, 4))
        aggs[f"spend_avg_{days}d"] = (
            ibis.ifelse(count > 0, total / count, ibis.null()).round(4).cast(AMOUNT)
        )
        aggs[f"spend_max_{days}d"] = amount.max().cast(AMOUNT)
    return (
        t.group_by(["customer_id", "currency"])
        .aggregate(**aggs)
        .order_by(["customer_id", "currency"])
    )


def duckdb_events(lake: EventLake) -> ir.Table:
    """The lake's deduplicated ``events`` view as an Ibis table on an in-process DuckDB."""
    con = ibis.duckdb.from_connection(lake.connect(lock=False))
    return con.table("events")


def spark_events(
    session: Any,
    lake_root: Path,
    *,
    event_type: str | None = CARD_EVENT,
    name: str = "finbridge_events",
) -> ir.Table:
    """The lake's Parquet partitions (one event type's, by default) as an Ibis table on Spark.

    The session should run with ``spark.sql.session.timeZone=UTC`` so instants compare as in
    DuckDB. Reading only the needed type's directory keeps Spark's partition discovery short.
    """
    root = (Path(lake_root) / EVENTS_DIR).resolve().as_posix()
    types = f"event_type={event_type}" if event_type else "event_type=*"
    frame = session.read.option("basePath", root).parquet(f"{root}/{types}/date=*")
    frame.createOrReplaceTempView(name)
    return ibis.pyspark.connect(session).table(name)


def spend_features_duckdb(
    lake: EventLake, as_of: datetime, windows: Sequence[int] = SPEND_WINDOWS_DAYS
) -> pa.Table:
    """Run :func:`card_spend_features` on the local lake; an Arrow table of features."""
    return card_spend_features(duckdb_events(lake), as_of, windows).to_pyarrow()

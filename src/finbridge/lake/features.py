"""Feature pipelines, written once with Ibis: DuckDB on one machine, Spark at scale.

:func:`card_spend_features` is the first one: per customer and currency, the count, sum, average
and maximum of card spending (partner-reported purchases and card payments on our own ledger)
over trailing 1/7/30-day windows, as of a given instant. It is
point-in-time correct: only events that occurred strictly before ``as_of`` are seen, so the same
call replayed later (or in a backtest) gives the same numbers.

The input is the lake's event table (envelope columns, payload as canonical JSON). The payload
fields are read with regular expressions rather than Ibis' JSON operations because those are
not portable (on PySpark they run as Python UDFs that fail on string payloads); the lake writes
payloads in one canonical spelling (sorted keys, no spaces), the fields read hold identifiers,
codes and decimal strings that need no JSON escaping, and a quote inside any other string value
is escaped (``\\"``), so a pattern ``"key":"`` can only match the real key.

Money stays decimal end to end: amounts are ``decimal(20, 4)``, sums ``decimal(38, 4)``, and the
average is the exact quotient rounded half-to-even to 4 places, computed in integers so that
DuckDB and Spark agree even on ties.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pyarrow as pa

from finbridge.lake.eventlake import EVENTS_DIR, EventLake

SPEND_WINDOWS_DAYS: tuple[int, ...] = (1, 7, 30)
AMOUNT = dt.Decimal(20, 4)
_UNITS = 10_000  # amounts are decimal(20, 4): this many units per currency unit
CARD_EVENT = "card.transaction"
LEDGER_EVENT = "transaction.posted"
SPEND_SOURCES: tuple[str, ...] = (CARD_EVENT, LEDGER_EVENT)


def _field(payload: ir.StringValue, name: str, chars: str) -> ir.StringValue:
    return payload.re_extract(rf'"{name}":"({chars})"', 1)


def card_spend_features(
    events: ir.Table,
    as_of: datetime,
    windows: Sequence[int] = SPEND_WINDOWS_DAYS,
    *,
    sources: Sequence[str] = SPEND_SOURCES,
) -> ir.Table:
    """Per-customer spending aggregates over trailing windows, as of ``as_of`` (exclusive).

    Spend is a card purchase reported by a partner (``card.transaction`` with
    ``kind="purchase"``; refunds are not spend) or a card payment posted on our own ledger
    (``transaction.posted`` with ``kind="card_payment"``, paid by ``from_customer_id``);
    ``sources`` picks which of the two feeds count (use one if both carry the same payments).

    ``events`` needs the lake columns ``event_id``, ``event_type``, ``schema_version``,
    ``occurred_at`` and ``payload``. Returns one row per (customer_id, currency) with spend in
    the longest window, columns ``spend_{count,sum,avg,max}_{N}d`` for each window; sums are 0
    and avg/max are null for a window without spend.
    """
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    if not windows or any(w < 1 for w in windows):
        raise ValueError("windows must be positive day counts")
    unknown = set(sources) - set(SPEND_SOURCES)
    if not sources or unknown:
        raise ValueError(f"sources must be among {SPEND_SOURCES}")
    as_of = as_of.astimezone(UTC)
    start = as_of - timedelta(days=max(windows))
    t = events.filter((events.occurred_at < as_of) & (events.occurred_at >= start))
    t = spend_rows(t, sources)
    t = t.mutate(units=(t.amount * _UNITS).cast("int64"))  # exact: amounts have 4 places

    aggs: dict[str, Any] = {}
    for days in sorted(windows):
        inside = t.occurred_at >= as_of - timedelta(days=days)
        amount = ibis.ifelse(inside, t.amount, ibis.null(AMOUNT))
        count = inside.cast("int64").sum()
        total = amount.sum()
        aggs[f"spend_count_{days}d"] = count
        aggs[f"spend_sum_{days}d"] = total.coalesce(ibis.literal(0, AMOUNT)).cast(dt.Decimal(38, 4))
        aggs[f"spend_avg_{days}d"] = exact_mean(
            ibis.ifelse(inside, t.units, ibis.null("int64")).sum(), count
        )
        aggs[f"spend_max_{days}d"] = amount.max().cast(AMOUNT)
    return (
        t.group_by(["customer_id", "currency"])
        .aggregate(**aggs)
        .order_by(["customer_id", "currency"])
    )


def spend_rows(events: ir.Table, sources: Sequence[str] = SPEND_SOURCES) -> ir.Table:
    """One row per card spend event (``customer_id``, ``currency``, ``amount``, ``occurred_at``
    and the envelope), each event once even if the lake holds it in two files.

    The spend rule of :func:`card_spend_features`, shared with the feature store's views.
    """
    t = events.filter(events.event_type.isin(list(sources)) & (events.schema_version == 1))
    # The lake may hold one event in two files after a retried write: keep one row per id.
    first = ibis.row_number().over(group_by=t.event_id, order_by=t.occurred_at)
    t = t.mutate(_n=first).filter(lambda x: x._n == 0).drop("_n")
    partner = t.event_type == CARD_EVENT
    kind = _field(t.payload, "kind", "[a-z_]+")
    t = t.mutate(
        customer_id=ibis.ifelse(
            partner,
            _field(t.payload, "customer_id", r"[^\"]+"),
            _field(t.payload, "from_customer_id", r"[^\"]+"),
        ),
        currency=_field(t.payload, "currency", "[A-Z]{3}"),
        amount=_field(t.payload, "amount", r"[0-9.]+").cast(AMOUNT),
        is_spend=ibis.ifelse(partner, kind == "purchase", kind == "card_payment"),
    )
    return t.filter(t.is_spend & t.customer_id.notnull() & (t.customer_id != "")).drop("is_spend")


def exact_mean(
    units_sum: ir.IntegerValue, count: ir.IntegerValue, scale: int = 4
) -> ir.DecimalValue:
    """``units_sum / count`` in units of ``10**-scale``, rounded half-to-even, as
    ``decimal(20, scale)``.

    Both engines would divide decimals differently (DuckDB through a double, where 0.00375
    rounds down; Spark in decimal), so the quotient is built from integers: remainder, exact
    quotient of the remainder-free sum, and the banker's rounding step. Exact while a window's
    sum stays under 2**53 ten-thousandths (about 900 billion currency units).
    """
    divisor = count.nullif(0)  # no purchases: null, and no division by zero (ANSI Spark)
    rest = units_sum % divisor
    quotient = (units_sum - rest) // divisor
    twice = rest * 2
    up = (twice > divisor) | ((twice == divisor) & (quotient % 2 == 1))
    rounded = quotient + up.cast("int64")
    # Multiplying by 0.0001 is exact in decimal on both engines (unlike dividing by 10,000).
    scaled = dt.Decimal(24, scale)
    unit = ibis.literal(Decimal(1).scaleb(-scale), scaled)
    return (rounded.cast(scaled) * unit).cast(dt.Decimal(20, scale))


def duckdb_events(lake: EventLake) -> ir.Table:
    """The lake's deduplicated ``events`` view as an Ibis table on an in-process DuckDB."""
    con = ibis.duckdb.from_connection(lake.connect(lock=False))
    return con.table("events")


def spark_events(
    session: Any,
    lake_root: Path,
    *,
    event_types: Sequence[str] | None = SPEND_SOURCES,
    name: str = "finbridge_events",
) -> ir.Table:
    """The lake's current files (of ``event_types``; all if None) as an Ibis table on Spark.

    The session should run with ``spark.sql.session.timeZone=UTC`` so instants compare as in
    DuckDB. The files are the Delta table's current version as its log lists them (files an
    ``optimize`` replaced are left out), read as hive-partitioned Parquet, so Spark needs no
    Delta connector.
    """
    root = (Path(lake_root) / EVENTS_DIR).resolve()
    lake = EventLake(Path(lake_root))
    if event_types is None:
        paths = [f.as_posix() for f in lake.files()]
    else:
        paths = [f.as_posix() for t in event_types for f in lake.files(t)]
    if not paths:
        raise ValueError(f"the lake at {lake_root} holds none of {list(event_types or [])}")
    frame = session.read.option("basePath", root.as_posix()).parquet(*paths)
    frame.createOrReplaceTempView(name)
    return ibis.pyspark.connect(session).table(name)


def spend_features_duckdb(
    lake: EventLake,
    as_of: datetime,
    windows: Sequence[int] = SPEND_WINDOWS_DAYS,
    *,
    sources: Sequence[str] = SPEND_SOURCES,
) -> pa.Table:
    """Run :func:`card_spend_features` on the local lake; an Arrow table of features."""
    expr = card_spend_features(duckdb_events(lake), as_of, windows, sources=sources)
    return expr.to_pyarrow()

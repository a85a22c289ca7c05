"""Engagement sums for profiles, written with Ibis on the lake's events: DuckDB here, Spark at
scale (the same expressions on :func:`finbridge.lake.features.spark_events`), like the spending
RFM (:mod:`.spending`).

The engine does the heavy part: per customer, event kind and 15-minute UTC bucket, the sum of
each event's decay ``2 ** -(age / half-life)`` at ``as_of`` and the bucket's first instant; per
customer and headline, the news reads' decayed sum. Every time zone in use is a whole number of
quarter hours from UTC, so a 15-minute UTC bucket falls inside one local hour of any zone: the
small aggregated rows are then placed in each customer's local hours of the week in Polars
(:func:`finbridge.acquisition.profiles.states_from_sums`), which is the only zone-dependent step.

Payload fields are read with the lake's portable regular expressions (the canonical JSON spells
every payload one way; a quote inside a string is ``\\"``), as :func:`~finbridge.lake.features
.spend_rows` does. Decay uses whole seconds of event time (``epoch_seconds`` is what both engines
share), so a sum is exact to within 6e-7 of its value.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from finbridge.acquisition.sendtime import HALF_LIFE_DAYS, KIND_WEIGHTS
from finbridge.core.errors import ValidationError

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import polars as pl

    from finbridge.lake import Event, EventLake

KINDS = tuple(KIND_WEIGHTS)
BUCKET_SECONDS = 900
_STRING = r'(?:[^"\\]|\\.)*'  # a JSON string's body, escapes included


def _string_field(payload: ir.StringValue, name: str) -> ir.StringValue:
    raw = payload.re_extract(rf'"{name}":"({_STRING})"', 1)
    # Only the two escapes a headline can carry matter for topics: a quote and a backslash.
    return raw.replace('\\"', '"').replace("\\\\", "\\").nullif("")


def engagement_rows(
    events: ir.Table, *, until: datetime, since: datetime | None = None
) -> ir.Table:
    """One row per engagement event in ``[since, until)`` (each event once, even if the lake
    holds it in two files): ``subject_id``, ``event_type``, ``occurred_at``, ``title``,
    ``category``."""
    import ibis

    for name, value in (("until", until), ("since", since)):
        if value is not None and value.tzinfo is None:
            raise ValidationError(f"{name} needs a time zone", field=name)
    t = events.filter(
        events.event_type.isin(list(KINDS))
        & (events.occurred_at < until.astimezone(UTC))
        & events.subject_id.notnull()
    )
    if since is not None:
        t = t.filter(t.occurred_at >= since.astimezone(UTC))
    first = ibis.row_number().over(group_by=t.event_id, order_by=t.occurred_at)
    t = t.mutate(_n=first).filter(lambda x: x._n == 0)
    return t.select(
        "subject_id",
        "event_type",
        "occurred_at",
        title=_string_field(t.payload, "title"),
        category=_string_field(t.payload, "category"),
    )


def since_each(rows: ir.Table, since: ir.Table) -> ir.Table:
    """``rows`` of the customers in ``since`` (``subject_id``, ``since``), each from its own
    instant on: a stored profile takes only the events after its ``as_of``."""
    joined = rows.join(since, rows.subject_id == since.subject_id)
    return joined.filter(joined.occurred_at >= joined.since).select(rows.columns)


def engagement_sums(rows: ir.Table, as_of: datetime) -> tuple[ir.Table, ir.Table]:
    """(buckets, news) of :func:`engagement_rows`' rows, decayed to ``as_of``.

    ``buckets``: ``subject_id``, ``event_type``, ``bucket`` (UTC epoch second of its start),
    ``decay`` (sum), ``first`` (earliest instant). ``news``: ``subject_id``, ``title``,
    ``category``, ``decay`` (sum), over news reads only."""
    import ibis

    if as_of.tzinfo is None:
        raise ValidationError("as_of needs a time zone", field="as_of")
    seconds = rows.occurred_at.epoch_seconds()
    age_days = (ibis.literal(as_of.timestamp()) - seconds) / 86_400.0
    t = rows.mutate(
        decay=ibis.literal(2.0) ** (-age_days / HALF_LIFE_DAYS),
        bucket=(seconds // BUCKET_SECONDS) * BUCKET_SECONDS,
    )
    buckets = t.group_by(["subject_id", "event_type", "bucket"]).aggregate(
        decay=t.decay.sum(), first=t.occurred_at.min()
    )
    reads = t.filter(t.event_type == "news.read")
    news = reads.group_by(["subject_id", "title", "category"]).aggregate(decay=reads.decay.sum())
    return buckets, news


@dataclass(frozen=True)
class Sums:
    """Both aggregates, fetched (Polars frames)."""

    buckets: pl.DataFrame
    news: pl.DataFrame

    @property
    def subjects(self) -> set[str]:
        return set(self.buckets["subject_id"].unique().to_list())


def _fetched(rows: ir.Table, as_of: datetime, backend: Any = None) -> Sums:
    buckets, news = engagement_sums(rows, as_of)
    return Sums(_polars(buckets, backend), _polars(news, backend))


def _polars(expr: ir.Table, backend: Any = None) -> pl.DataFrame:
    import polars as pl

    table = expr.to_pyarrow() if backend is None else backend.to_pyarrow(expr)
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame


def lake_events(lake: EventLake) -> ir.Table:
    from finbridge.lake.features import duckdb_events

    return duckdb_events(lake)


def subjects_between(lake: EventLake, since: datetime | None, until: datetime) -> set[str]:
    """Customers with engagement events in ``[since, until)``."""
    rows = engagement_rows(lake_events(lake), until=until, since=since)
    return set(_polars(rows.select("subject_id").distinct())["subject_id"].to_list())


def sums_since(
    lake: EventLake, since: dict[str, datetime], until: datetime, *, low: datetime | None
) -> Sums:
    """Each customer's events from their own ``since`` to ``until``, summed at ``until``
    (``low``: the earliest of them, a filter the engine can push down)."""
    import ibis

    table = ibis.memtable(
        {"subject_id": list(since), "since": [s.astimezone(UTC) for s in since.values()]}
    )
    rows = engagement_rows(lake_events(lake), until=until, since=low)
    return _fetched(since_each(rows, table), until)


def sums_of(lake: EventLake, subjects: Collection[str], until: datetime) -> Sums:
    """These customers' whole history before ``until``, summed at ``until``."""
    import ibis

    rows = engagement_rows(lake_events(lake), until=until)
    wanted = ibis.memtable({"subject_id": sorted(subjects)})
    rows = rows.join(wanted, "subject_id").select(rows.columns)
    return _fetched(rows, until)


def sums_of_events(events: Sequence[Event], until: datetime) -> Sums:
    """Streamed events (not yet read from the lake) through the same expressions, on an
    in-memory table: the stream's profile updates follow the one rule."""
    import ibis

    from finbridge.lake.eventlake import canonical_json

    columns: dict[str, list[Any]] = {
        "event_id": [e.event_id for e in events],
        "event_type": [e.event_type for e in events],
        "occurred_at": [e.occurred_at.astimezone(UTC) for e in events],
        "subject_id": [e.subject_id for e in events],
        "payload": [canonical_json(e.payload) for e in events],
    }
    schema = {
        "event_id": "string",
        "event_type": "string",
        "occurred_at": "timestamp('UTC')",
        "subject_id": "string",
        "payload": "string",
    }
    # A DuckDB of its own per call, not Ibis' process-wide default one: the stream's consumer
    # threads and a refresh may run this at the same moment.
    backend = ibis.duckdb.connect()
    try:
        rows = engagement_rows(ibis.memtable(columns, schema=schema), until=until)
        return _fetched(rows, until, backend)
    finally:
        backend.disconnect()

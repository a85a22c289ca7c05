"""The append-only event lake: one Delta Lake table (delta-rs), queried with DuckDB.

Layout: ``<root>/events`` is a Delta table partitioned by ``event_type`` and the UTC ``date``
of ``occurred_at`` (hive-style directories, so DuckDB, Spark and pyarrow read its files; the
``_delta_log`` says which files make up each version). Beside it, ``<root>/quarantine`` and
``<root>/quarantine_actions`` hold the batches that failed their quality checks.

- Appends are atomic (one Delta commit per batch) and idempotent: a batch's commit carries an
  application transaction named after the batch and a hash of its event ids, so a retried batch
  (a relay that crashed after writing but before marking the outbox rows published, a
  re-ingested upload) writes nothing. Where a retry groups events differently, the same event
  can sit in two files: the ``events`` view keeps one row per ``event_id``, so duplicates are
  never visible to readers.
- Every batch passes :func:`~finbridge.lake.quality.check_event_batch` first; a failing batch
  goes whole to the quarantine with its reasons (nothing is dropped silently).
- Time travel (:meth:`EventLake.as_of`), compaction (:meth:`EventLake.optimize`), retention
  (:meth:`EventLake.vacuum`) and schema evolution come from the format.
- A lake written by the old code (hand-managed Parquet files, no ``_delta_log``) is migrated by
  :func:`finbridge.lake.legacy.migrate_legacy` (``finbridge lake migrate``).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from finbridge.core.clock import Clock, SystemClock
from finbridge.core.errors import ValidationError
from finbridge.core.files import private_dir
from finbridge.lake.delta import (
    append_once,
    check_evolution,
    holds_legacy_parquet,
    open_table,
    secure_commit,
)
from finbridge.lake.events import Event
from finbridge.lake.quality import (
    QualityPolicy,
    QualityReport,
    Quarantine,
    check_event_batch,
)

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa
    from deltalake import DeltaTable

# DuckDB, PyArrow and delta-rs load when the lake is first written or read, not when the
# package is imported: every engine imports ``finbridge.lake`` for the outbox, and most never
# read it.

EVENTS_DIR = "events"
PARTITIONS = ("event_type", "date")
MIN_VACUUM_RETENTION = timedelta(days=7)  # time travel reaches at least this far back


@cache
def file_schema() -> pa.Schema:
    """Columns stored in each data file; event_type and date live in the directory names."""
    import pyarrow as pa

    return pa.schema(
        [
            pa.field("event_id", pa.string(), nullable=False),
            pa.field("schema_version", pa.int32(), nullable=False),
            pa.field("occurred_at", pa.timestamp("us", tz="UTC"), nullable=False),
            pa.field("subject_id", pa.string()),
            pa.field("source", pa.string(), nullable=False),
            pa.field("payload", pa.string(), nullable=False),  # canonical JSON of the payload
        ]
    )


@cache
def table_schema() -> pa.Schema:
    """The Delta table's columns: the file columns and the two partition columns."""
    import pyarrow as pa

    return (
        file_schema()
        .append(pa.field("event_type", pa.string(), nullable=False))
        .append(pa.field("date", pa.date32(), nullable=False))
    )


VIEW_COLUMNS = (
    "event_id",
    "event_type",
    "schema_version",
    "occurred_at",
    "subject_id",
    "source",
    "payload",
    "date",
)
_EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$")
_FIELD = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_BATCH = re.compile(r"^[A-Za-z0-9_\-]{1,80}$")
_HIVE = "hive_partitioning=true, hive_types={'event_type': VARCHAR, 'date': DATE}"
_EMPTY = (
    "SELECT NULL::VARCHAR AS event_id, NULL::VARCHAR AS event_type,"
    " NULL::INTEGER AS schema_version, NULL::TIMESTAMPTZ AS occurred_at,"
    " NULL::VARCHAR AS subject_id, NULL::VARCHAR AS source, NULL::VARCHAR AS payload,"
    " NULL::DATE AS date WHERE false"
)


def canonical_json(payload: dict[str, Any]) -> str:
    """One spelling per payload (sorted keys, no spaces), so equal payloads store equal bytes."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class AppendResult:
    events: int
    files_written: int  # partitions written (one file each for a small batch)
    files_skipped: int  # partitions of a batch already committed by an earlier attempt
    version: int | None = None  # the table version after the append
    quarantined: bool = False  # the batch failed its checks and went to the quarantine
    failures: tuple[str, ...] = ()  # why, when quarantined
    batch_id: str | None = None  # the batch's id (its name and a hash of its event ids)


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as read back from the lake (payload parsed)."""

    event_id: str
    event_type: str
    schema_version: int
    occurred_at: datetime
    subject_id: str | None
    source: str
    payload: dict[str, Any]

    def to_event(self) -> Event:
        return Event(
            event_type=self.event_type,
            occurred_at=self.occurred_at,
            payload=self.payload,
            source=self.source,
            subject_id=self.subject_id,
            schema_version=self.schema_version,
            event_id=self.event_id,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "event_type": self.event_type,
            "schema_version": self.schema_version,
            "occurred_at": self.occurred_at.isoformat(),
            "subject_id": self.subject_id,
            "source": self.source,
            "payload": self.payload,
        }


@dataclass(frozen=True, slots=True)
class Commit:
    """One version of the events table, from its log."""

    version: int
    timestamp: datetime
    operation: str
    batch: str | None
    rows: int | None
    written_at: datetime | None  # the writer's clock (the log's timestamp is the wall clock)
    metrics: Mapping[str, Any] = field(default_factory=dict)


class LegacyLakeError(ValidationError):
    """The lake is still in the old hand-managed Parquet layout."""


class EventLake:
    """Append events to a Delta table under ``root``; query them with DuckDB.

    ``as_of`` (see :meth:`as_of`) pins a read-only view to one version of the table.
    """

    def __init__(
        self,
        root: Path,
        *,
        clock: Clock | None = None,
        quality: QualityPolicy | None = None,
        _version: int | None = None,
    ) -> None:
        # Resolved once: DuckDB's allowed_directories check compares real paths.
        self.root = Path(root).resolve()
        self.events_dir = self.root / EVENTS_DIR
        self.clock = clock or SystemClock()
        self.quality = quality or QualityPolicy()
        self.quarantine = Quarantine(self.root)
        self.version_pin = _version

    # -- versions ---------------------------------------------------------------------------
    def as_of(self, *, version: int | None = None, at: datetime | None = None) -> EventLake:
        """The lake as it was at ``version``, or at the instant ``at`` (the last version
        committed at or before it); read-only. Versions older than the last vacuum's
        retention may have lost their files and are refused by the format."""
        if (version is None) == (at is None):
            raise ValidationError("give exactly one of version or at", field="as_of")
        table = self._table()
        if table is None:
            raise ValidationError("the lake has no versions yet", field="as_of")
        if version is not None:
            if version < 0 or version > table.version():
                raise ValidationError(
                    f"version {version} does not exist (latest is {table.version()})",
                    field="version",
                )
            pinned = version
        else:
            at = _aware(at, "at")  # type: ignore[arg-type]
            candidates = [c.version for c in self.history(limit=None) if c.timestamp <= at]
            if not candidates:
                raise ValidationError(f"the lake has no version at {at.isoformat()}", field="at")
            pinned = max(candidates)
        return EventLake(self.root, clock=self.clock, quality=self.quality, _version=pinned)

    def version(self) -> int | None:
        """The version this lake reads (None for an empty lake)."""
        table = self._table()
        return None if table is None else table.version()

    def _table(self) -> DeltaTable | None:
        self._refuse_legacy()
        table = open_table(self.events_dir)
        if table is not None and self.version_pin is not None:
            table.load_as_version(self.version_pin)
        return table

    def _refuse_legacy(self) -> None:
        if holds_legacy_parquet(self.events_dir):
            raise LegacyLakeError(
                f"the lake at {self.root} is in the old Parquet layout:"
                " run `finbridge lake migrate` to move it to Delta",
                field="lake",
            )

    # -- writing ----------------------------------------------------------------------------
    def append(self, events: Iterable[Event], *, batch: str, check: bool = True) -> AppendResult:
        """Append ``events`` (already validated) as one atomic commit.

        ``batch`` names the writer's unit of work (``outbox-000000000042``, ``ingest-<hash>``);
        writing the same batch with the same events again is a no-op. The batch is checked
        first (``check=False`` only for a batch an operator released from the quarantine); a
        failing one goes whole to the quarantine and the result says why.
        """
        if not _BATCH.match(batch):
            raise ValidationError(f"invalid batch name {batch!r}", field="batch")
        events = list(events)
        for event in events:
            if not _EVENT_TYPE.match(event.event_type):
                raise ValidationError(
                    f"invalid event type {event.event_type!r}", field="event_type"
                )
        ordered = sorted(events, key=lambda e: (e.event_type, e.occurred_at, e.event_id))
        return self.append_arrow(_to_arrow(ordered), batch=batch, check=check)

    def append_arrow(self, table: pa.Table, *, batch: str, check: bool = True) -> AppendResult:
        """Append rows already in the table's shape (:func:`table_schema`, plus any new
        optional columns: schema evolution; a changed type is refused naming the field)."""
        if self.version_pin is not None:
            raise ValidationError("a lake pinned to a version is read-only", field="as_of")
        if not _BATCH.match(batch):
            raise ValidationError(f"invalid batch name {batch!r}", field="batch")
        self._refuse_legacy()
        ids = sorted(table.column("event_id").to_pylist()) if table.num_rows else []
        digest = hashlib.sha256("\n".join(str(i) for i in ids).encode()).hexdigest()[:16]
        batch_id = f"{batch}-{digest}"
        partitions = _partition_count(table)
        current = self._table()
        version = None if current is None else current.version()
        if table.num_rows == 0:
            return AppendResult(0, 0, 0, version, batch_id=batch_id)
        # A changed type is refused outright (a writer's bug, not a bad batch of data).
        check_evolution(current, table.schema)
        now = self.clock.now()
        if check:
            report = self._check(table, batch_id, now)
            if not report.passed:
                self.quarantine.put(batch_id, table, [f.to_dict() for f in report.failures], now)
                return AppendResult(
                    table.num_rows,
                    0,
                    0,
                    version,
                    quarantined=True,
                    failures=tuple(report.reasons()),
                    batch_id=batch_id,
                )
        written, version = append_once(
            self.events_dir,
            table,
            app_id=batch_id,
            partition_by=PARTITIONS,
            current=current,
            metadata={
                "finbridge.batch": batch_id,
                "finbridge.rows": str(table.num_rows),
                "finbridge.written_at": now.isoformat(),
                "finbridge.checked": "yes" if check else "released",
            },
        )
        return AppendResult(
            events=table.num_rows,
            files_written=partitions if written else 0,
            files_skipped=0 if written else partitions,
            version=version,
            batch_id=batch_id,
        )

    def _check(self, table: pa.Table, batch_id: str, now: datetime) -> QualityReport:
        recent: list[int] = []
        if table.num_rows > self.quality.volume_floor:  # small batches are never anomalies
            since = now - self.quality.volume_window
            recent = [
                c.rows
                for c in self.history(limit=500)
                if c.rows is not None and c.written_at is not None and c.written_at >= since
            ]
        return check_event_batch(
            table, name=f"batch {batch_id}", now=now, policy=self.quality, recent_rows=recent
        )

    # -- maintenance ------------------------------------------------------------------------
    def optimize(self, *, target_size: int | None = None) -> dict[str, Any]:
        """Compact small files into large ones (a new version; readers see the same rows)."""
        table = self._writable()
        if table is None:
            return {"numFilesAdded": 0, "numFilesRemoved": 0}
        metrics = dict(table.optimize.compact(target_size=target_size))
        self._secure_new_files()
        return metrics

    def vacuum(
        self, *, retain: timedelta = MIN_VACUUM_RETENTION, dry_run: bool = False
    ) -> list[str]:
        """Delete files no version newer than ``retain`` ago needs; returns their paths.

        Versions older than ``retain`` can no longer be read (time travel ends there); less than
        :data:`MIN_VACUUM_RETENTION` is refused, so a running reader never loses its files.
        """
        if retain < MIN_VACUUM_RETENTION:
            raise ValidationError(
                f"retention must be at least {MIN_VACUUM_RETENTION.days} days", field="retain"
            )
        table = self._writable()
        if table is None:
            return []
        hours = int(retain.total_seconds() // 3600)
        return list(table.vacuum(retention_hours=hours, dry_run=dry_run))

    def history(self, limit: int | None = 20) -> list[Commit]:
        """The table's versions, newest first."""
        table = open_table(self.events_dir)
        if table is None:
            return []
        commits = []
        for entry in table.history(limit):
            written = entry.get("finbridge.written_at")
            rows = entry.get("finbridge.rows")
            commits.append(
                Commit(
                    version=int(entry["version"]),
                    timestamp=datetime.fromtimestamp(entry["timestamp"] / 1000, tz=UTC),
                    operation=str(entry.get("operation", "")),
                    batch=entry.get("finbridge.batch"),
                    rows=int(rows) if rows is not None else None,
                    written_at=datetime.fromisoformat(written) if written else None,
                    metrics=entry.get("operationMetrics") or {},
                )
            )
        return commits

    def _writable(self) -> DeltaTable | None:
        if self.version_pin is not None:
            raise ValidationError("a lake pinned to a version is read-only", field="as_of")
        return self._table()

    def _secure_new_files(self) -> None:
        secure_commit(self.events_dir, None)

    # -- reading ----------------------------------------------------------------------------
    def files(self, event_type: str | None = None) -> list[Path]:
        """The data files of the version this lake reads (one type's, if given)."""
        if event_type is not None and not _EVENT_TYPE.match(event_type):
            raise ValidationError(f"invalid event type {event_type!r}", field="event_type")
        table = self._table()
        if table is None:
            return []
        filters = [("event_type", "=", event_type)] if event_type else None
        return sorted(Path(uri) for uri in table.file_uris(file_pruning_predicate=filters))

    def _source_sql(self, event_type: str | None = None, where: Sequence[str] = ()) -> str:
        """A SELECT over the (optionally one type's) files, deduplicated by event_id.

        ``where`` conditions (with ``?`` placeholders) apply before deduplicating, which is
        safe because one event id always lands in one type/date partition; filtering first
        lets DuckDB prune files by their partition values. Returns :data:`_EMPTY` when there are
        no files.
        """
        files = self.files(event_type)
        if not files:
            return _EMPTY
        listed = ", ".join("'" + f.as_posix().replace("'", "''") + "'" for f in files)
        cols = ", ".join(VIEW_COLUMNS)
        filters = f" WHERE {' AND '.join(where)}" if where else ""
        return (
            # Only our own paths, constants and fixed conditions are interpolated.
            f"SELECT {cols} FROM read_parquet([{listed}], {_HIVE}, union_by_name=true){filters}"  # noqa: S608
            " QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY occurred_at) = 1"
        )

    def connect(self, *, lock: bool = True) -> duckdb.DuckDBPyConnection:
        """An in-memory DuckDB connection with the ``events`` view, confined to the lake.

        External access is switched off apart from the lake directory, so SQL passed to
        :meth:`query` cannot read other files on the machine; ``lock`` also freezes the
        configuration (trusted callers such as Ibis, which sets options itself, pass False).
        """
        import duckdb

        private_dir(self.events_dir)
        con = duckdb.connect(config={"threads": 2})
        allowed = self.events_dir.resolve().as_posix().replace("'", "''") + "/"
        con.execute(f"SET allowed_directories=['{allowed}']")
        con.execute("SET enable_external_access=false")
        con.execute("SET TimeZone='UTC'")
        if lock:
            con.execute("SET lock_configuration=true")
        con.execute(f"CREATE VIEW events AS {self._source_sql()}")
        return con

    def query_arrow(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        """Run one read-only SELECT against the ``events`` view; returns an Arrow table."""
        import duckdb

        statements = duckdb.extract_statements(sql)
        if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
            raise ValidationError("only a single SELECT statement is allowed", field="sql")
        con = self.connect()
        try:
            return con.sql(sql, params=list(params or [])).to_arrow_table()
        except duckdb.Error as exc:
            raise ValidationError(str(exc).splitlines()[0], field="sql") from None
        finally:
            con.close()

    def query(self, sql: str, params: Sequence[Any] | None = None) -> list[dict[str, Any]]:
        """Run one read-only SELECT against the ``events`` view; rows as dicts."""
        return self.query_arrow(sql, params).to_pylist()  # type: ignore[no-any-return]

    def events(
        self,
        *,
        event_type: str | None = None,
        subject_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        newest_first: bool = True,
        visible: PartnerView | None = None,
    ) -> list[StoredEvent]:
        """Typed read: events filtered by type, subject and ``since <= occurred_at < until``,
        and, for a partner, to what :class:`PartnerView` lets it see.

        Filters on type and date prune whole directories before any file is opened.
        """
        if limit < 1 or limit > 100_000:
            raise ValidationError("limit must be between 1 and 100000", field="limit")
        where, params = _window(since, until)
        if subject_id is not None:
            where.append("subject_id = ?")
            params.append(subject_id)
        if visible is not None:
            clause, values = visible.sql()
            where.append(clause)
            params += values
        source = self._source_sql(event_type, where)
        if source == _EMPTY:
            return []
        order = "DESC" if newest_first else "ASC"
        # Values are bound parameters; only fixed SQL fragments are interpolated.
        sql = f"SELECT * FROM ({source}) ORDER BY occurred_at {order}, event_id {order} LIMIT ?"  # noqa: S608
        params.append(limit)
        con = self.connect()
        try:
            rows = con.execute(sql, params).fetchall()
        finally:
            con.close()
        return [_stored(row) for row in rows]

    def payload_table(
        self,
        event_type: str,
        fields: Sequence[str],
        *,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> pa.Table:
        """Every event of one type in ``since <= occurred_at < until``, oldest first, as an
        Arrow table: ``event_id``, ``occurred_at`` and each payload ``field`` as text.

        No row limit: the columns come out of DuckDB in one vectorised pass, so a replay or a
        training set reads the whole history instead of the first 100,000 typed events.
        """
        for name in fields:
            if not _FIELD.match(name):
                raise ValidationError(f"not a payload field name: {name!r}", field="fields")
        where, params = _window(since, until)
        source = self._source_sql(event_type, where)
        # Field names were checked above; they are the only interpolated values.
        extracted = "".join(
            f", json_extract_string(payload, '$.{name}') AS \"{name}\"" for name in fields
        )
        sql = (
            f"SELECT event_id, occurred_at{extracted} FROM ({source})"  # noqa: S608
            " WHERE event_id IS NOT NULL ORDER BY occurred_at, event_id"
        )
        con = self.connect()
        try:
            return con.sql(sql, params=params).to_arrow_table()
        finally:
            con.close()

    def count(self, event_type: str | None = None) -> int:
        con = self.connect()
        try:
            source = self._source_sql(event_type)
            row = con.execute(f"SELECT count(*) FROM ({source})").fetchone()  # noqa: S608
        finally:
            con.close()
        return int(row[0]) if row else 0

    def counts_by_type(self) -> dict[str, int]:
        rows = self.query("SELECT event_type, count(*) AS n FROM events GROUP BY 1 ORDER BY 1")
        return {r["event_type"]: int(r["n"]) for r in rows}


@dataclass(frozen=True, slots=True)
class PartnerView:
    """What one partner may read: the events its own files brought in (``source``), and the
    events of customers who consented to share them with it, of the types each agreed to."""

    source: str
    shared: Mapping[str, frozenset[str]] = field(default_factory=dict)  # customer -> types

    def sql(self) -> tuple[str, list[Any]]:
        """One bound condition (customers grouped by their agreed types, so it stays short)."""
        clauses, params = ["source = ?"], [self.source]
        by_types: dict[frozenset[str], list[str]] = {}
        for customer_id, types in sorted(self.shared.items()):
            if types:
                by_types.setdefault(types, []).append(customer_id)
        for types, customers in by_types.items():
            subjects = ", ".join("?" * len(customers))
            kinds = ", ".join("?" * len(types))
            clauses.append(f"(subject_id IN ({subjects}) AND event_type IN ({kinds}))")
            params += [*customers, *sorted(types)]
        return f"({' OR '.join(clauses)})", params


def _window(since: datetime | None, until: datetime | None) -> tuple[list[str], list[Any]]:
    """``since <= occurred_at < until`` as conditions that also prune date partitions."""
    where: list[str] = []
    params: list[Any] = []
    if since is not None:
        since = _aware(since, "since")
        where += ["date >= ?", "occurred_at >= ?"]
        params += [since.date(), since]
    if until is not None:
        until = _aware(until, "until")
        where += ["date <= ?", "occurred_at < ?"]
        params += [until.date(), until]
    return where, params


def _aware(value: datetime, field: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError("naive datetime: give a timezone offset", field=field)
    return value.astimezone(UTC)


def _stored(row: tuple[Any, ...]) -> StoredEvent:
    event_id, event_type, version, occurred_at, subject_id, source, payload, _date = row
    return StoredEvent(
        event_id=event_id,
        event_type=event_type,
        schema_version=int(version),
        occurred_at=occurred_at.astimezone(UTC),
        subject_id=subject_id,
        source=source,
        payload=json.loads(payload),
    )


def _to_arrow(events: Sequence[Event]) -> pa.Table:
    import pyarrow as pa

    return pa.Table.from_pydict(
        {
            "event_id": [e.event_id for e in events],
            "schema_version": [e.schema_version for e in events],
            "occurred_at": [e.occurred_at for e in events],
            "subject_id": [e.subject_id for e in events],
            "source": [e.source for e in events],
            "payload": [canonical_json(e.payload) for e in events],
            "event_type": [e.event_type for e in events],
            "date": [e.occurred_at.astimezone(UTC).date() for e in events],
        },
        schema=table_schema(),
    )


def _partition_count(table: pa.Table) -> int:
    if table.num_rows == 0:
        return 0
    return int(table.group_by(list(PARTITIONS)).aggregate([]).num_rows)

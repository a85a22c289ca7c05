"""The append-only event lake: date/type-partitioned Parquet files, queried with DuckDB.

Layout (hive style, so DuckDB, Spark and pyarrow all read it without a catalogue)::

    <root>/events/event_type=<type>/date=<YYYY-MM-DD UTC>/part-<batch>-<content hash>.parquet

Files are written once and never rewritten or deleted. A file's name is derived from the batch
that wrote it and a hash of the event ids it holds, and it is published with a no-clobber hard
link from a temporary file, so a retried batch (a relay that crashed after writing but before
marking the outbox rows published, a re-ingested upload) lands on the same name and is skipped.
Where a retry groups events differently, the same event can sit in two files: the ``events``
view keeps one row per ``event_id``, so duplicates are never visible to readers.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from finbridge.core.errors import ValidationError
from finbridge.core.files import FILE_MODE, private_dir
from finbridge.lake.events import Event

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

# DuckDB and PyArrow load when the lake is first written or read, not when the package is
# imported: every engine imports ``finbridge.lake`` for the outbox, and most never read it.

EVENTS_DIR = "events"


@cache
def file_schema() -> pa.Schema:
    """Columns stored in each file; event_type and date live in the directory names (hive)."""
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
    files_written: int
    files_skipped: int  # already present from an earlier attempt of the same batch


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


class EventLake:
    """Append events to Parquet partitions under ``root``; query them with DuckDB."""

    def __init__(self, root: Path) -> None:
        # Resolved once: DuckDB's allowed_directories check compares real paths.
        self.root = Path(root).resolve()
        self.events_dir = self.root / EVENTS_DIR

    # -- writing ----------------------------------------------------------------------------
    def append(self, events: Iterable[Event], *, batch: str) -> AppendResult:
        """Write ``events`` (already validated) as one file per (type, date) partition.

        ``batch`` names the writer's unit of work (``outbox-000000000042``, ``ingest-<hash>``);
        writing the same batch with the same events again is a no-op.
        """
        if not _BATCH.match(batch):
            raise ValidationError(f"invalid batch name {batch!r}", field="batch")
        groups: dict[tuple[str, date], list[Event]] = defaultdict(list)
        count = 0
        for event in events:
            if not _EVENT_TYPE.match(event.event_type):
                raise ValidationError(
                    f"invalid event type {event.event_type!r}", field="event_type"
                )
            groups[(event.event_type, event.occurred_at.astimezone(UTC).date())].append(event)
            count += 1
        written = skipped = 0
        for (event_type, day), group in sorted(groups.items()):
            if self._write_partition(event_type, day, group, batch):
                written += 1
            else:
                skipped += 1
        return AppendResult(events=count, files_written=written, files_skipped=skipped)

    def _write_partition(self, event_type: str, day: date, events: list[Event], batch: str) -> bool:
        events = sorted(events, key=lambda e: (e.occurred_at, e.event_id))
        digest = hashlib.sha256("\n".join(e.event_id for e in events).encode()).hexdigest()[:16]
        folder = self.events_dir / f"event_type={event_type}" / f"date={day.isoformat()}"
        final = folder / f"part-{batch}-{digest}.parquet"
        if final.exists():
            return False
        created = not folder.exists()
        private_dir(folder)
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pydict(
            {
                "event_id": [e.event_id for e in events],
                "schema_version": [e.schema_version for e in events],
                "occurred_at": [e.occurred_at for e in events],
                "subject_id": [e.subject_id for e in events],
                "source": [e.source for e in events],
                "payload": [canonical_json(e.payload) for e in events],
            },
            schema=file_schema(),
        )
        # Write beside the target under a name the readers' glob ignores, then publish with a
        # hard link, which (unlike rename) refuses to replace a file another writer published.
        tmp = folder / f".{final.name}.{uuid.uuid4().hex}.tmp"
        pq.write_table(table, tmp, compression="zstd")
        os.chmod(tmp, FILE_MODE)  # customers' events: the service's user only
        # Durable before visible: the relay marks outbox rows published right after this
        # returns, so the bytes and the directory entry must survive a power cut.
        _fsync(tmp)
        try:
            os.link(tmp, final)
        except FileExistsError:
            return False
        finally:
            tmp.unlink()
        _fsync(folder)
        if created:  # new partition directories must survive too
            _fsync(folder.parent)
            _fsync(folder.parent.parent)
        return True

    # -- reading ----------------------------------------------------------------------------
    def files(self, event_type: str | None = None) -> list[Path]:
        pattern = f"event_type={event_type}/*/*.parquet" if event_type else "*/*/*.parquet"
        return sorted(self.events_dir.glob(pattern))

    def _source_sql(self, event_type: str | None = None, where: Sequence[str] = ()) -> str:
        """A SELECT over the (optionally one type's) files, deduplicated by event_id.

        ``where`` conditions (with ``?`` placeholders) apply before deduplicating, which is
        safe because one event id always lands in one type/date partition; filtering first
        lets DuckDB prune directories and files. Returns :data:`_EMPTY` when there are no files.
        """
        if event_type is not None and not _EVENT_TYPE.match(event_type):
            raise ValidationError(f"invalid event type {event_type!r}", field="event_type")
        if not self.files(event_type):
            return _EMPTY
        sub = f"event_type={event_type}" if event_type else "*"
        glob = (self.events_dir / sub / "*" / "*.parquet").as_posix().replace("'", "''")
        cols = ", ".join(VIEW_COLUMNS)
        filters = f" WHERE {' AND '.join(where)}" if where else ""
        return (
            # Only our own path, constants and fixed conditions are interpolated.
            f"SELECT {cols} FROM read_parquet('{glob}', {_HIVE}, union_by_name=true){filters}"  # noqa: S608
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
        where: list[str] = []
        params: list[Any] = []
        if subject_id is not None:
            where.append("subject_id = ?")
            params.append(subject_id)
        if since is not None:
            since = _aware(since, "since")
            where += ["date >= ?", "occurred_at >= ?"]
            params += [since.date(), since]
        if until is not None:
            until = _aware(until, "until")
            where += ["date <= ?", "occurred_at < ?"]
            params += [until.date(), until]
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


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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

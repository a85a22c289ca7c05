"""Batch ingestion of partner event files (JSON Lines or Parquet) into the lake.

Every row is validated twice over: the envelope (``event_type``, ``schema_version``, an aware
``occurred_at``, optional ``id`` and ``subject_id``, ``payload``) and the payload against the
schema registered for that type and version. Good rows go to the lake; bad rows go to the
rejection report with their row number (the line number for JSON Lines, 1-based) and a reason
naming the field. Nothing is dropped silently: ``accepted + rejected == total`` is asserted.

The report is bounded in the database (issue 11): the ingestion row keeps the first
``MAX_REPORTED_REJECTIONS`` rejections and counts by field; the *full* report is streamed, row by
row as the file is read, to a gzip JSON Lines file in the lake (``rejections/<ingestion id>
.jsonl.gz``, 0600), which the report references (``rejections_file``) and
:meth:`Ingestor.rejections` reads back lazily. A refused file leaves no report file.

Re-ingesting is idempotent at two levels: the same file from the same source (by SHA-256) returns
the first report and writes nothing; and event ids are derived from the source and the row's own
``id`` (or, without one, its content), so the same row inside a different file is still the same
event, which the lake's per-``event_id`` view shows once.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
import os
import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Final, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, StringConstraints
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from finbridge.core.clock import Clock, SystemClock
from finbridge.core.errors import NotFound, PayloadTooLarge, ValidationError
from finbridge.core.files import private_dir
from finbridge.core.ids import new_id
from finbridge.lake.eventlake import EventLake, canonical_json
from finbridge.lake.events import Event, known_event_types
from finbridge.lake.tables import IngestionRow
from finbridge.store.engine import unit_of_work

Format = Literal["jsonl", "parquet"]
FORMATS: tuple[str, ...] = ("jsonl", "parquet")
# Fixed namespace: event ids derived from (source, row id) are stable across runs and machines.
EVENT_NAMESPACE = uuid.UUID("6f1c2b8e-3d4a-5e7f-9a0b-1c2d3e4f5a6b")
_SOURCE = re.compile(r"^[\w.:@/\-]{1,64}$")
ProgressFn = Callable[[int, int], None]
FUTURE_TOLERANCE = timedelta(minutes=5)


class IngestRowModel(BaseModel):
    """The wire envelope of one partner row. Strict: ``"1"`` is not a schema version."""

    model_config = ConfigDict(extra="forbid", strict=True)

    id: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = None
    event_type: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    schema_version: int
    occurred_at: AwareDatetime
    subject_id: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Rejection:
    row: int  # 1-based line number (JSON Lines) or row index (Parquet)
    field: str  # the field at fault: "occurred_at", "payload.amount", or "row" for the whole row
    reason: str
    row_id: str | None = None  # the partner's own id for the row, when it could be read

    def to_dict(self) -> dict[str, Any]:
        return {"row": self.row, "field": self.field, "reason": self.reason, "row_id": self.row_id}


@dataclass(frozen=True, slots=True)
class IngestReport:
    id: str
    source: str
    filename: str | None
    format: str
    file_hash: str
    size_bytes: int
    total: int
    accepted: int
    rejected: int
    rejections: tuple[Rejection, ...]  # the first MAX_REPORTED_REJECTIONS in full
    created_at: datetime
    replayed: bool = False  # True when this file was ingested before and nothing was written
    # Why the accepted rows went to the lake's quarantine instead of its events (a batch-level
    # quality check failed, e.g. volume); empty when they reached the lake. Known at ingestion
    # time only: the data-quality page (and ``finbridge lake batches``) keep the record.
    quarantined: tuple[str, ...] = ()
    rejection_counts: Mapping[str, int] = field(default_factory=dict)  # field -> all rejected
    # The full report in the lake (relative to its root), when any row was rejected.
    rejections_file: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "source": self.source,
            "filename": self.filename,
            "format": self.format,
            "file_hash": self.file_hash,
            "size_bytes": self.size_bytes,
            "total": self.total,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "rejections": [r.to_dict() for r in self.rejections],
            "rejection_counts": dict(self.rejection_counts),
            "created_at": self.created_at.isoformat(),
            "replayed": self.replayed,
            "quarantined": list(self.quarantined),
            "rejections_file": self.rejections_file,
        }


# Bounds on what one file can cost (issue 11: a 3 MB file of "{}" lines held a worker 35 s and
# stored a 95 MB report). The first rejections are kept in full, the rest only counted by field;
# a file whose rows are mostly rejected is refused once enough of it has been seen.
MAX_REPORTED_REJECTIONS: Final = 100
MAX_COUNTED_FIELDS: Final = 50
MAX_REASON_CHARS: Final = 300
EARLY_STOP_ROWS: Final = 1000
EARLY_STOP_RATIO: Final = 0.5
REJECTIONS_DIR: Final = "rejections"  # in the lake: the full reports, one file per ingestion


@dataclass
class _Batch:
    events: list[Event] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)  # the first N only
    counts: dict[str, int] = field(default_factory=dict)  # field -> rejected rows, all of them
    rejected: int = 0
    seen: dict[str, int] = field(default_factory=dict)  # event_id -> first row number
    total: int = 0
    not_after: datetime | None = None  # rows dated later than this are refused
    # Every rejection, streamed as it happens (the full report; the lists above are bounded).
    sink: gzip.GzipFile | None = None

    def reject(self, rejection: Rejection) -> None:
        self.rejected += 1
        if self.sink is not None:
            full = Rejection(
                rejection.row, rejection.field[:64], rejection.reason[:MAX_REASON_CHARS],
                rejection.row_id[:100] if rejection.row_id else rejection.row_id,
            )  # fmt: skip
            self.sink.write(json.dumps(full.to_dict(), ensure_ascii=False).encode() + b"\n")
        key = rejection.field[:64]
        if key not in self.counts and len(self.counts) >= MAX_COUNTED_FIELDS:
            key = "other"
        self.counts[key] = self.counts.get(key, 0) + 1
        if len(self.rejections) < MAX_REPORTED_REJECTIONS:
            row_id = rejection.row_id[:100] if rejection.row_id else rejection.row_id
            self.rejections.append(
                Rejection(
                    rejection.row, rejection.field[:64], rejection.reason[:MAX_REASON_CHARS], row_id
                )
            )

    def hopeless(self) -> bool:
        """Past the early-stop point with most rows rejected: stop reading the file."""
        return self.total >= EARLY_STOP_ROWS and self.rejected > EARLY_STOP_RATIO * self.total


def _private_new(path: Path) -> Path:
    """``path`` created empty, 0600 (a report names a partner's rows: never world-readable)."""
    os.close(os.open(path, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600))
    return path


def guess_format(filename: str | None, default: Format = "jsonl") -> Format:
    """Format from a file name: ``.parquet`` is Parquet, ``.jsonl``/``.ndjson``/``.json`` JSONL."""
    name = (filename or "").lower()
    if name.endswith(".parquet"):
        return "parquet"
    if name.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    return default


def derive_event_id(source: str, row_id: str | None, envelope: dict[str, Any]) -> str:
    """Stable event id: from the partner's row id if given, else from the row's content."""
    key = row_id if row_id is not None else canonical_json(envelope)
    return str(uuid.uuid5(EVENT_NAMESPACE, f"{source}\n{key}"))


class Ingestor:
    """Validates partner files, stores good rows in the lake, records every ingestion."""

    def __init__(
        self,
        engine: Engine,
        lake: EventLake,
        *,
        clock: Clock | None = None,
        max_upload_bytes: int = 20 * 1024 * 1024,
    ) -> None:
        self._engine = engine
        self._lake = lake
        self._clock = clock or SystemClock()
        self.max_upload_bytes = max_upload_bytes

    def ingest_file(
        self,
        data: Path | bytes,
        *,
        fmt: str | None = None,
        source: str,
        filename: str | None = None,
        actor_id: str | None = None,
        progress: ProgressFn | None = None,
    ) -> IngestReport:
        """Ingest one file; returns its report (the stored one if the file was seen before)."""
        if not _SOURCE.match(source or ""):
            raise ValidationError(
                "source must be 1-64 letters, digits or . : @ / _ -", field="source"
            )
        if isinstance(data, Path):
            filename = filename or data.name
            size = data.stat().st_size
            self._check_size(size)
            data = data.read_bytes()
        self._check_size(len(data))
        fmt = fmt or guess_format(filename)
        if fmt not in FORMATS:
            raise ValidationError(f"format must be one of {list(FORMATS)}", field="format")
        file_hash = hashlib.sha256(data).hexdigest()
        previous = self._find(source, file_hash)
        if previous is not None:
            return previous
        parse = _parse_parquet if fmt == "parquet" else _parse_jsonl
        ingestion_id = new_id()
        pending = self._report_path(f".{ingestion_id}.partial")
        try:
            with gzip.open(_private_new(pending), "wb") as sink:
                batch = _Batch(not_after=self._clock.now() + FUTURE_TOLERANCE, sink=sink)
                parse(batch, data, source, progress)
                batch.sink = None
            return self._store(
                batch, ingestion_id, pending, source, filename, fmt, file_hash, len(data),
                actor_id,
            )  # fmt: skip
        finally:
            pending.unlink(missing_ok=True)  # refused, raced, or failed: no report file

    def _store(
        self, batch: _Batch, ingestion_id: str, pending: Path, source: str,
        filename: str | None, fmt: str, file_hash: str, size: int, actor_id: str | None,
    ) -> IngestReport:  # fmt: skip
        if batch.total == 0:
            raise ValidationError("the file holds no rows", field="file")
        if batch.hopeless():
            raise ValidationError(
                f"file refused: {batch.rejected} of its first {batch.total} rows were rejected"
                f" (by field: {dict(sorted(batch.counts.items()))}); nothing was stored",
                field="file",
                rejection_counts=dict(batch.counts),
                first_rejections=[r.to_dict() for r in batch.rejections[:10]],
            )
        accepted, rejected = len(batch.events), batch.rejected
        assert accepted + rejected == batch.total, "ingestion lost rows"
        appended = self._lake.append(batch.events, batch=f"ingest-{file_hash[:16]}")
        if rejected:
            # In place before the row that references it commits (a crash in between leaves
            # an unreferenced file, never a reference to nothing).
            os.replace(pending, self._report_path(f"{ingestion_id}.jsonl.gz"))
        row = IngestionRow(
            id=ingestion_id,
            source=source,
            filename=(filename or None) and filename[:255],
            format=fmt,
            file_hash=file_hash,
            size_bytes=size,
            total_rows=batch.total,
            accepted_rows=accepted,
            rejected_rows=rejected,
            rejections=[r.to_dict() for r in batch.rejections],
            rejection_counts=dict(batch.counts),
            actor_id=actor_id,
            created_at=self._clock.now(),
        )
        try:
            with unit_of_work(self._engine) as session:
                session.add(row)
        except IntegrityError:
            # The same file raced us in; its files were identical, so its report is ours.
            self._report_path(f"{ingestion_id}.jsonl.gz").unlink(missing_ok=True)
            previous = self._find(source, file_hash)
            if previous is None:
                raise
            return previous
        report = self._with_file(_report(row, replayed=False))
        if appended.quarantined:
            report = dataclasses.replace(report, quarantined=appended.failures)
        return report

    def rejections(self, report: IngestReport) -> Iterator[Rejection]:
        """Every rejection of ``report``'s file, in row order, read lazily from the lake."""
        if report.rejections_file is None:
            yield from report.rejections
            return
        with gzip.open(self._lake.root / report.rejections_file, "rb") as lines:
            for line in lines:
                r = json.loads(line)
                yield Rejection(r["row"], r["field"], r["reason"], r.get("row_id"))

    def _report_path(self, name: str) -> Path:
        return private_dir(self._lake.root / REJECTIONS_DIR) / name

    def _with_file(self, report: IngestReport) -> IngestReport:
        """``report`` naming its full rejection report, where the lake holds one."""
        name = f"{REJECTIONS_DIR}/{report.id}.jsonl.gz"
        if report.rejected and (self._lake.root / name).exists():
            return dataclasses.replace(report, rejections_file=name)
        return report

    def _check_size(self, size: int) -> None:
        if size > self.max_upload_bytes:
            raise PayloadTooLarge(
                f"file of {size} bytes exceeds the upload limit of {self.max_upload_bytes} bytes",
                field="file",
            )

    def _find(self, source: str, file_hash: str) -> IngestReport | None:
        with unit_of_work(self._engine, write=False) as session:
            row = session.scalar(
                select(IngestionRow).where(
                    IngestionRow.source == source, IngestionRow.file_hash == file_hash
                )
            )
        return self._with_file(_report(row, replayed=True)) if row is not None else None

    def get(self, ingestion_id: str) -> IngestReport:
        with unit_of_work(self._engine, write=False) as session:
            row = session.get(IngestionRow, ingestion_id)
        if row is None:
            raise NotFound(f"no ingestion {ingestion_id}", field="ingestion_id")
        return self._with_file(_report(row, replayed=False))

    def list(
        self, *, limit: int = 50, with_rejections_only: bool = False, source: str | None = None
    ) -> list[IngestReport]:
        """Most recent ingestions first (one source's only, if given)."""
        stmt = select(IngestionRow).order_by(IngestionRow.created_at.desc(), IngestionRow.id.desc())
        if source is not None:
            stmt = stmt.where(IngestionRow.source == source)
        if with_rejections_only:
            stmt = stmt.where(IngestionRow.rejected_rows > 0)
        with unit_of_work(self._engine, write=False) as session:
            rows = session.scalars(stmt.limit(max(1, min(limit, 500)))).all()
        return [self._with_file(_report(r, replayed=False)) for r in rows]


def ingest_file(
    engine: Engine,
    lake: EventLake,
    data: Path | bytes,
    *,
    fmt: str | None = None,
    source: str,
    clock: Clock | None = None,
    max_upload_bytes: int = 20 * 1024 * 1024,
    filename: str | None = None,
    actor_id: str | None = None,
    progress: ProgressFn | None = None,
) -> IngestReport:
    """Convenience wrapper around :meth:`Ingestor.ingest_file`."""
    return Ingestor(engine, lake, clock=clock, max_upload_bytes=max_upload_bytes).ingest_file(
        data, fmt=fmt, source=source, filename=filename, actor_id=actor_id, progress=progress
    )


# -- parsing and validation ------------------------------------------------------------------


def _parse_jsonl(batch: _Batch, data: bytes, source: str, progress: ProgressFn | None) -> None:
    lines = data.split(b"\n")
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue  # blank lines (e.g. the final newline) are not rows
        batch.total += 1
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            batch.reject(Rejection(number, "row", f"not UTF-8 text: {exc.reason}"))
            continue
        _validate_row(batch, number, text, source)
        if batch.hopeless():
            break
        if progress is not None and number % 1000 == 0:
            progress(number, len(lines))
    if progress is not None:
        progress(len(lines), len(lines))


def _parse_parquet(batch: _Batch, data: bytes, source: str, progress: ProgressFn | None) -> None:
    import pyarrow as pa  # loaded for Parquet uploads only
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(pa.BufferReader(data))
    except (pa.ArrowException, OSError) as exc:
        raise ValidationError(f"not a readable Parquet file: {exc}", field="file") from None
    total = table.num_rows
    number = 0
    for record_batch in table.to_batches(max_chunksize=2000):
        for record in record_batch.to_pylist():
            number += 1
            batch.total += 1
            payload = record.get("payload")
            if isinstance(payload, str):
                try:
                    record["payload"] = json.loads(payload)
                except json.JSONDecodeError as exc:
                    batch.reject(
                        Rejection(number, "payload", f"malformed JSON: {exc.msg}", _row_id(record))
                    )
                    continue
            try:
                text = json.dumps(record, default=_jsonable)
            except TypeError as exc:
                batch.reject(Rejection(number, "row", str(exc), _row_id(record)))
                continue
            _validate_row(batch, number, text, source)
            if batch.hopeless():
                return
        if progress is not None:
            progress(number, total)


def _validate_row(batch: _Batch, number: int, text: str, source: str) -> None:
    try:
        env = IngestRowModel.model_validate_json(text)
    except PydanticValidationError as exc:
        batch.reject(_from_pydantic(number, exc, text))
        return
    versions = known_event_types().get(env.event_type)
    if versions is None:
        batch.reject(
            Rejection(number, "event_type", f"unknown event type {env.event_type!r}", env.id)
        )
        return
    if env.schema_version not in versions:
        batch.reject(
            Rejection(
                number,
                "schema_version",
                f"{env.event_type} has no schema version {env.schema_version} (known: {versions})",
                env.id,
            )
        )
        return
    occurred_at = env.occurred_at.astimezone(UTC)
    if batch.not_after is not None and occurred_at > batch.not_after:
        # A future-dated event would be "known" before it happened and break point-in-time
        # features and replays; a few minutes of partner clock skew are tolerated.
        batch.reject(
            Rejection(number, "occurred_at", "is in the future (beyond clock skew)", env.id)
        )
        return
    identity = {
        "event_type": env.event_type,
        "schema_version": env.schema_version,
        "occurred_at": occurred_at.isoformat(),
        "subject_id": env.subject_id,
        "payload": env.payload,
    }
    event_id = derive_event_id(source, env.id, identity)
    if event_id in batch.seen:
        batch.reject(
            Rejection(number, "id", f"duplicate of row {batch.seen[event_id]} in this file", env.id)
        )
        return
    try:
        event = Event(
            event_type=env.event_type,
            occurred_at=occurred_at,
            payload=env.payload,
            source=source,
            subject_id=env.subject_id,
            schema_version=env.schema_version,
            event_id=event_id,
        ).validated()
    except ValidationError as exc:
        batch.reject(Rejection(number, exc.field or "payload", exc.detail, env.id))
        return
    batch.seen[event_id] = number
    batch.events.append(event)


def _from_pydantic(number: int, exc: PydanticValidationError, text: str) -> Rejection:
    first = exc.errors()[0]
    if first["type"] == "json_invalid":
        return Rejection(number, "row", f"malformed JSON: {first['ctx'].get('error', '')}".strip())
    loc = ".".join(str(p) for p in first["loc"]) or "row"
    reason = first["msg"]
    if first["type"] == "missing":
        reason = "required field is missing"
    elif first["type"] == "extra_forbidden":
        reason = "unknown field"
    elif not first["loc"]:
        reason = f"each row must be a JSON object ({first['msg']})"
    elif first["type"] == "timezone_aware":
        reason = "naive timestamp: give a UTC offset such as +08:00 or Z"
    try:
        raw = json.loads(text)
        row_id = raw.get("id") if isinstance(raw, dict) else None
    except json.JSONDecodeError:
        row_id = None
    return Rejection(number, loc, reason, row_id if isinstance(row_id, str) else None)


def _row_id(record: dict[str, Any]) -> str | None:
    value = record.get("id")
    return value if isinstance(value, str) else None


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()  # naive stays naive, and is rejected as such
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)  # exact; a Parquet decimal column is not a float
    raise TypeError(f"unsupported value of type {type(value).__name__}")


def _report(row: IngestionRow, *, replayed: bool) -> IngestReport:
    created = row.created_at
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return IngestReport(
        id=row.id,
        source=row.source,
        filename=row.filename,
        format=row.format,
        file_hash=row.file_hash,
        size_bytes=int(row.size_bytes),
        total=int(row.total_rows),
        accepted=int(row.accepted_rows),
        rejected=int(row.rejected_rows),
        rejections=tuple(
            Rejection(r["row"], r["field"], r["reason"], r.get("row_id")) for r in row.rejections
        ),
        created_at=created,
        replayed=replayed,
        rejection_counts=dict(row.rejection_counts or {}),
    )

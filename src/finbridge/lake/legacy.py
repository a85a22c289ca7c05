"""The lake's old layout (hand-managed hive-partitioned Parquet) and its migration to Delta.

Until issue 19 the lake wrote ``<root>/events/event_type=<t>/date=<d>/part-<batch>-<hash>.parquet``
files itself. :func:`migrate_legacy` moves such a lake to the Delta table in one commit:

1. the old ``events`` directory is renamed to ``events.legacy-parquet`` (one atomic rename, so
   no reader ever sees half of each layout);
2. its rows, one per event id (the old readers' rule), are appended to the new table as one
   batch, whose application transaction makes a rerun after a crash write nothing twice;
3. the old files are then kept under ``events.legacy-parquet.migrated`` for the operator to
   delete once satisfied (``--remove-legacy`` deletes them).

:func:`write_legacy_batch` is the old writer, kept only to build old lakes in tests and to
measure the old path beside the new one in ``benchmarks/cloud_compaction.py``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date
from pathlib import Path
from typing import TYPE_CHECKING

from finbridge.core.files import FILE_MODE, private_dir
from finbridge.lake.delta import holds_legacy_parquet
from finbridge.lake.eventlake import (
    EVENTS_DIR,
    EventLake,
    canonical_json,
    file_schema,
    table_schema,
)
from finbridge.lake.events import Event

if TYPE_CHECKING:
    import pyarrow as pa

LEGACY_DIR = "events.legacy-parquet"  # the old files while they are being moved
DONE_DIR = "events.legacy-parquet.migrated"  # and once they were
MIGRATION_BATCH = "migrate-legacy-parquet"


@dataclass(frozen=True, slots=True)
class MigrationResult:
    status: str  # "migrated", "already" (nothing to do) or "resumed" (finished a crashed run)
    files: int  # legacy Parquet files read
    events: int  # distinct events moved
    version: int | None  # the Delta table's version afterwards
    legacy_dir: Path | None  # where the old files are kept (None once removed)


def is_legacy(root: Path) -> bool:
    return holds_legacy_parquet(Path(root) / EVENTS_DIR)


def migrate_legacy(root: Path, *, remove_legacy: bool = False) -> MigrationResult:
    """Move a lake in the old layout to Delta; idempotent (a second run does nothing)."""
    root = Path(root).resolve()
    events, legacy = root / EVENTS_DIR, root / LEGACY_DIR
    if is_legacy(root):
        if legacy.exists():
            raise FileExistsError(f"{legacy} exists already: move it aside and run again")
        os.rename(events, legacy)
        status = "migrated"
    elif legacy.is_dir():
        status = "resumed"  # a run renamed the old files, then stopped before or after commit
    else:
        done = root / DONE_DIR
        if remove_legacy and done.is_dir():
            shutil.rmtree(done)
        return MigrationResult(
            "already", 0, 0, EventLake(root).version(), done if done.is_dir() else None
        )
    files = sorted(legacy.glob("event_type=*/date=*/*.parquet"))
    lake = EventLake(root)
    table = _read_legacy(files)
    result = lake.append_arrow(table, batch=MIGRATION_BATCH, check=False)
    if result.files_written == 0:
        status = "already"  # committed by an earlier run; only the old files were left
    kept: Path | None = root / DONE_DIR
    if remove_legacy:
        shutil.rmtree(legacy)
        kept = None
    else:  # moved aside, so that later runs (every demo start) need not read it again
        os.rename(legacy, root / DONE_DIR)
    return MigrationResult(status, len(files), table.num_rows, result.version, kept)


def _read_legacy(files: list[Path]) -> pa.Table:
    """The legacy files' rows, one per event id, in the Delta table's shape.

    Read whole into memory: old lakes were single-machine lakes (the demo's holds well under a
    million events); a larger one would be moved partition by partition.
    """
    import duckdb

    if not files:
        return table_schema().empty_table()
    con = duckdb.connect()
    try:
        sql = (
            "SELECT event_id, schema_version, occurred_at, subject_id, source, payload,"
            " event_type, date FROM read_parquet(?, hive_partitioning=true,"
            " hive_types={'event_type': VARCHAR, 'date': DATE}, union_by_name=true)"
            " QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY occurred_at) = 1"
            " ORDER BY event_type, occurred_at, event_id"
        )
        paths = [f.as_posix() for f in files]
        table: pa.Table = con.sql(sql, params=[paths]).to_arrow_table()
        return table.cast(table_schema())
    finally:
        con.close()


def write_legacy_batch(root: Path, events: Iterable[Event], *, batch: str) -> int:
    """The old writer: one Parquet file per (type, UTC date) published with a hard link.

    Kept for tests (a lake "written by the old code path") and the benchmark's baseline.
    Returns the files written.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    groups: dict[tuple[str, date], list[Event]] = defaultdict(list)
    for event in events:
        groups[(event.event_type, event.occurred_at.astimezone(UTC).date())].append(event)
    written = 0
    for (event_type, day), group in sorted(groups.items()):
        group.sort(key=lambda e: (e.occurred_at, e.event_id))
        digest = hashlib.sha256("\n".join(e.event_id for e in group).encode()).hexdigest()[:16]
        folder = Path(root) / EVENTS_DIR / f"event_type={event_type}" / f"date={day.isoformat()}"
        final = folder / f"part-{batch}-{digest}.parquet"
        if final.exists():
            continue
        private_dir(folder)
        table = pa.Table.from_pydict(
            {
                "event_id": [e.event_id for e in group],
                "schema_version": [e.schema_version for e in group],
                "occurred_at": [e.occurred_at for e in group],
                "subject_id": [e.subject_id for e in group],
                "source": [e.source for e in group],
                "payload": [canonical_json(e.payload) for e in group],
            },
            schema=file_schema(),
        )
        tmp = folder / f".{final.name}.tmp"
        pq.write_table(table, tmp, compression="zstd")
        os.chmod(tmp, FILE_MODE)
        _fsync(tmp)
        try:
            os.link(tmp, final)
        except FileExistsError:
            continue
        finally:
            tmp.unlink()
        _fsync(folder)
        written += 1
    return written


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

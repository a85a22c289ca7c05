"""Delta Lake (delta-rs) helpers shared by the event table and the quarantine tables.

Why Delta and not our own files: atomic commits, compaction, time travel, retention and schema
evolution come from the format (docs/decisions.md). What stays ours: idempotent appends (a Delta
*application transaction* per batch, the protocol's own mechanism for exactly-once writers),
the schema-evolution rule (a new nullable column is fine, a changed type is refused naming the
field) and private file modes (delta-rs creates files with the process umask).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from finbridge.core.errors import ValidationError
from finbridge.core.files import FILE_MODE, private_dir

if TYPE_CHECKING:
    import pyarrow as pa
    from deltalake import DeltaTable

LOG_DIR = "_delta_log"
_RETRIES = 8


def is_table(path: Path) -> bool:
    """A Delta table exists at ``path`` (its first commit, or a checkpoint, is in the log)."""
    log = Path(path) / LOG_DIR
    return (log / f"{0:020d}.json").exists() or (log / "_last_checkpoint").exists()


def holds_legacy_parquet(path: Path) -> bool:
    """``path`` holds the pre-Delta lake's Parquet files and no Delta log.

    Tested on the log *directory*, not on the first commit: a writer makes the directory
    before delta-rs writes its data files, so a reader between those files and the first
    commit must not take the new table for an old lake.
    """
    path = Path(path)
    return not (path / LOG_DIR).is_dir() and (
        next(path.glob("event_type=*/date=*/*.parquet"), None) is not None
    )


def open_table(path: Path) -> DeltaTable | None:
    """The table at ``path`` (its latest version), or None if none was created yet."""
    if not is_table(path):
        return None
    from deltalake import DeltaTable

    return DeltaTable(Path(path).as_posix())


def append_once(
    path: Path,
    table: pa.Table,
    *,
    app_id: str,
    metadata: Mapping[str, str],
    partition_by: Sequence[str] = (),
    current: DeltaTable | None = None,
) -> tuple[bool, int]:
    """Append ``table`` as one commit unless a commit with ``app_id`` is already in the log.

    Returns whether it wrote (False for a retried batch: nothing written) and the table's
    version after the call. ``current`` is the table as the caller just loaded it (saves
    reading the log again). Two writers racing with the
    same ``app_id`` conflict in Delta's commit; the loser re-reads the log and finds the
    winner's transaction. Other writers' appends never conflict with ours.
    """
    from deltalake import CommitProperties, Transaction, write_deltalake
    from deltalake.exceptions import CommitFailedError, DeltaError

    path = Path(path)
    private_dir(path / LOG_DIR)
    for attempt in range(_RETRIES):
        if current is None or attempt > 0:
            current = open_table(path)
        mode: Literal["merge"] | None = None
        if current is not None:
            if current.transaction_version(app_id) is not None:
                return False, current.version()
            mode = evolution(_arrow_schema(current), table.schema)
        # Partition directories made private before delta-rs creates them with the umask.
        for folder in _partition_dirs(path, table, partition_by):
            private_dir(folder)
        try:
            write_deltalake(
                current if current is not None else path.as_posix(),
                table,
                mode="append",
                partition_by=list(partition_by) or None,
                schema_mode=mode,
                commit_properties=CommitProperties(
                    app_transactions=[Transaction(app_id=app_id, version=1)],
                    custom_metadata=dict(metadata),
                ),
            )
        except CommitFailedError:
            # A racing commit (the same app id, or the table's creation): look again.
            if attempt == _RETRIES - 1:
                raise
            time.sleep(0.01 * (attempt + 1))
            continue
        except DeltaError as exc:
            if attempt == _RETRIES - 1 or "exist" not in str(exc).lower():
                raise
            time.sleep(0.01 * (attempt + 1))
            continue
        return True, secure_commit(path, current)
    raise AssertionError("unreachable: the last attempt raises")


def check_evolution(table: DeltaTable | None, incoming: pa.Schema) -> None:
    """Refuse ``incoming`` if it changes a column's type (see :func:`evolution`)."""
    if table is not None:
        evolution(_arrow_schema(table), incoming)


def evolution(existing: pa.Schema, incoming: pa.Schema) -> Literal["merge"] | None:
    """``"merge"`` when ``incoming`` adds nullable columns, None when it matches; refuses a
    changed type or a new non-nullable column with an error naming the field."""
    mode: Literal["merge"] | None = None
    for field in incoming:
        index = existing.get_field_index(field.name)
        if index < 0:
            if not field.nullable:
                raise ValidationError(
                    f"new column {field.name!r} must be optional (nullable) to join the lake",
                    field=field.name,
                )
            mode = "merge"
            continue
        old = existing.field(index).type
        if not _same_type(old, field.type):
            raise ValidationError(
                f"column {field.name!r} is {old} in the lake; the batch has {field.type}:"
                " a changed type is refused (add a new column instead)",
                field=field.name,
            )
    return mode


def _same_type(old: pa.DataType, new: pa.DataType) -> bool:
    import pyarrow as pa

    if old == new:
        return True
    # Delta has one string and one binary type; Arrow's large/view variants are the same.
    strings = (pa.string(), pa.large_string(), pa.string_view())
    if old in strings and new in strings:
        return True
    # Delta stores timestamps in microseconds (UTC); the unit of an incoming batch may differ.
    return bool(
        pa.types.is_timestamp(old)
        and pa.types.is_timestamp(new)
        and (old.tz is None) == (new.tz is None)
    )


def _partition_dirs(path: Path, table: pa.Table, partition_by: Sequence[str]) -> list[Path]:
    if not partition_by:
        return []
    import pyarrow.compute as pc

    keys = pc.unique(
        pc.binary_join_element_wise(*[pc.cast(table[c], "string") for c in partition_by], "\x00")
    ).to_pylist()
    out = []
    for key in keys:
        folder = path
        for column, value in zip(partition_by, key.split("\x00"), strict=True):
            folder = folder / f"{column}={value}"
        out.append(folder)
    return out


def secure_commit(path: Path, table: DeltaTable | None) -> int:
    """Make the files the latest commit added private (0600): delta-rs creates them with the
    umask's mode. Directories were made 0700 beforehand, so nothing is readable in between."""
    import json

    path = Path(path)
    if table is None:
        table = open_table(path)
        if table is None:
            return -1
    else:
        table.update_incremental()
    commit = path / LOG_DIR / f"{table.version():020d}.json"
    added: list[Path] = [commit]
    for line in commit.read_text().splitlines():
        action = json.loads(line)
        if "add" in action:
            from urllib.parse import unquote

            added.append(path / unquote(action["add"]["path"]))
    for file in added:
        if file.exists() and file.stat().st_mode & 0o077:
            os.chmod(file, FILE_MODE)
    return int(table.version())


def _arrow_schema(table: DeltaTable) -> pa.Schema:
    import pyarrow as pa

    return pa.schema(table.schema().to_arrow())  # delta-rs answers with an arro3 schema

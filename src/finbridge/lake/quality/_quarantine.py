"""Quarantined batches: kept whole, with their reasons, in Delta tables beside the events.

- ``<lake>/quarantine``: one row per event of a quarantined batch (the envelope columns, all
  nullable, since a batch may be here *because* of a null), with the batch id, when and why;
- ``<lake>/quarantine_actions``: the operators' decisions (release or discard), append-only,
  with who, when and a note. A discarded batch stays in ``quarantine``: discarding is a
  recorded decision, not a deletion, so nothing leaves the lake silently.

Writes are idempotent by batch id (a Delta application transaction), so a relay that retries a
failing batch quarantines it once.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from finbridge.core.errors import Conflict, NotFound

if TYPE_CHECKING:
    import pyarrow as pa

QUARANTINE_DIR = "quarantine"
ACTIONS_DIR = "quarantine_actions"
ACTIONS = ("release", "discard")


@cache
def quarantine_schema() -> pa.Schema:
    import pyarrow as pa

    return pa.schema(
        [
            pa.field("batch_id", pa.string()),
            pa.field("quarantined_at", pa.timestamp("us", tz="UTC")),
            pa.field("reasons", pa.string()),  # JSON list of failures
            pa.field("event_id", pa.string()),
            pa.field("event_type", pa.string()),
            pa.field("schema_version", pa.int32()),
            pa.field("occurred_at", pa.timestamp("us", tz="UTC")),
            pa.field("subject_id", pa.string()),
            pa.field("source", pa.string()),
            pa.field("payload", pa.string()),
        ]
    )


@cache
def actions_schema() -> pa.Schema:
    import pyarrow as pa

    return pa.schema(
        [
            pa.field("batch_id", pa.string(), nullable=False),
            pa.field("action", pa.string(), nullable=False),
            pa.field("actor_id", pa.string(), nullable=False),
            pa.field("at", pa.timestamp("us", tz="UTC"), nullable=False),
            pa.field("note", pa.string()),
        ]
    )


@dataclass(frozen=True, slots=True)
class QuarantinedBatch:
    batch_id: str
    quarantined_at: datetime
    events: int
    failures: tuple[dict[str, Any], ...]
    status: str  # "quarantined", "released" or "discarded"
    decided_by: str | None = None
    decided_at: datetime | None = None
    note: str | None = None

    @property
    def reasons(self) -> list[str]:
        return [str(f["reason"]) for f in self.failures]


class Quarantine:
    """The quarantine tables of one lake."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.batches_dir = self.root / QUARANTINE_DIR
        self.actions_dir = self.root / ACTIONS_DIR

    def put(
        self, batch_id: str, table: pa.Table, failures: Sequence[dict[str, Any]], at: datetime
    ) -> bool:
        """Keep ``table`` (the batch's event rows) whole; False if the batch is already here."""
        import pyarrow as pa

        from finbridge.lake.delta import append_once

        n = table.num_rows
        columns = {
            name: table.column(name) if name in table.column_names else pa.nulls(n)
            for name in quarantine_schema().names[3:]
        }
        rows = pa.table(
            {
                "batch_id": pa.array([batch_id] * n, pa.string()),
                "quarantined_at": pa.array([at] * n, pa.timestamp("us", tz="UTC")),
                "reasons": pa.array([json.dumps(list(failures))] * n, pa.string()),
                **columns,
            }
        ).cast(quarantine_schema())
        return append_once(self.batches_dir, rows, app_id=f"q:{batch_id}", metadata={})[0]

    def rows(self, batch_id: str) -> pa.Table:
        """The batch's event rows as they arrived."""
        import pyarrow.compute as pc

        table = self._read(self.batches_dir)
        if table is None:
            raise NotFound(f"no quarantined batch {batch_id}", field="batch_id")
        table = table.filter(pc.equal(table["batch_id"], batch_id))
        if table.num_rows == 0:
            raise NotFound(f"no quarantined batch {batch_id}", field="batch_id")
        return table

    def batches(self, *, limit: int = 50) -> list[QuarantinedBatch]:
        """Most recently quarantined first, each with its status."""
        table = self._read(self.batches_dir, ["batch_id", "quarantined_at", "reasons"])
        if table is None:
            return []
        seen: dict[str, list[Any]] = {}
        for row in table.to_pylist():
            entry = seen.setdefault(row["batch_id"], [row["quarantined_at"], 0, row["reasons"]])
            entry[1] += 1
        decisions = self._decisions()
        out = []
        for batch_id, (at, n, reasons) in seen.items():
            decision = decisions.get(batch_id)
            out.append(
                QuarantinedBatch(
                    batch_id=batch_id,
                    quarantined_at=at.astimezone(UTC),
                    events=n,
                    failures=tuple(json.loads(reasons)),
                    status=_STATUS[decision["action"]] if decision else "quarantined",
                    decided_by=decision["actor_id"] if decision else None,
                    decided_at=decision["at"].astimezone(UTC) if decision else None,
                    note=decision["note"] if decision else None,
                )
            )
        out.sort(key=lambda b: (b.quarantined_at, b.batch_id), reverse=True)
        return out[: max(1, limit)]

    def get(self, batch_id: str) -> QuarantinedBatch:
        for batch in self.batches(limit=1_000_000):
            if batch.batch_id == batch_id:
                return batch
        raise NotFound(f"no quarantined batch {batch_id}", field="batch_id")

    def decide(self, batch_id: str, action: str, actor_id: str, at: datetime, note: str) -> None:
        """Record an operator's decision; a batch is decided once (a second one is a conflict,
        unless it repeats the first, which is a no-op so a retried request is safe)."""
        import pyarrow as pa

        from finbridge.lake.delta import append_once

        batch = self.get(batch_id)
        if batch.status != "quarantined":
            if _STATUS[action] == batch.status:
                return
            raise Conflict(f"batch {batch_id} is already {batch.status}", field="action")
        row = pa.table(
            {
                "batch_id": [batch_id],
                "action": [action],
                "actor_id": [actor_id],
                "at": pa.array([at], pa.timestamp("us", tz="UTC")),
                "note": [note[:500] or None],
            }
        ).cast(actions_schema())
        append_once(self.actions_dir, row, app_id=f"decision:{batch_id}", metadata={})

    def _decisions(self) -> dict[str, dict[str, Any]]:
        table = self._read(self.actions_dir)
        if table is None:
            return {}
        out: dict[str, dict[str, Any]] = {}
        for row in sorted(table.to_pylist(), key=lambda r: r["at"]):
            out.setdefault(row["batch_id"], row)  # the first decision stands
        return out

    @staticmethod
    def _read(path: Path, columns: list[str] | None = None) -> pa.Table | None:
        from finbridge.lake.delta import open_table

        table = open_table(path)
        return None if table is None else table.to_pyarrow_table(columns=columns)


_STATUS = {"release": "released", "discard": "discarded"}

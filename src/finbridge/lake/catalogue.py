"""What the lake holds and how its batches fared: the events catalogue and the batch log.

- :func:`catalogue`: per event type, the schema versions registered and stored, rows per
  version, first and last seen, and the payload fields its registered schema declares;
- :func:`batch_log`: the recent batches, passed (from the Delta log's commits) and quarantined
  (from the quarantine), newest first, for the data-quality page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from finbridge.lake.eventlake import EventLake
from finbridge.lake.events import known_event_types, schema_for
from finbridge.lake.quality import QuarantinedBatch

_CATALOGUE_SQL = """
SELECT event_type, schema_version, count(*) AS n,
       min(occurred_at) AS first_seen, max(occurred_at) AS last_seen
FROM events GROUP BY 1, 2 ORDER BY 1, 2
"""


@dataclass(frozen=True, slots=True)
class VersionStats:
    version: int
    registered: bool
    events: int
    first_seen: datetime | None
    last_seen: datetime | None
    fields: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CatalogueEntry:
    event_type: str
    versions: tuple[VersionStats, ...]
    events: int
    last_seen: datetime | None
    registered: bool  # a schema is registered for at least one version

    @property
    def latest_version(self) -> int:
        return max(v.version for v in self.versions)


@dataclass(frozen=True, slots=True)
class BatchRecord:
    batch_id: str
    at: datetime
    events: int
    status: str  # "passed", "released" (written after release), "quarantined", "discarded"
    reasons: tuple[str, ...] = ()
    version: int | None = None  # the table version that holds it, when written
    decided_by: str | None = None
    note: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of_quarantined(cls, q: QuarantinedBatch) -> BatchRecord:
        return cls(
            batch_id=q.batch_id,
            at=q.quarantined_at,
            events=q.events,
            status=q.status,
            reasons=tuple(q.reasons),
            decided_by=q.decided_by,
            note=q.note,
        )


def catalogue(lake: EventLake) -> list[CatalogueEntry]:
    """Every event type registered or stored, with its versions' counts and last sighting."""
    registered = known_event_types()
    stored: dict[str, dict[int, tuple[int, datetime, datetime]]] = {}
    for row in lake.query(_CATALOGUE_SQL):
        stored.setdefault(row["event_type"], {})[int(row["schema_version"])] = (
            int(row["n"]),
            row["first_seen"].astimezone(UTC),
            row["last_seen"].astimezone(UTC),
        )
    entries = []
    for event_type in sorted(set(registered) | set(stored)):
        versions = []
        known = set(registered.get(event_type, []))
        seen = stored.get(event_type, {})
        for version in sorted(known | set(seen)):
            n, first, last = seen.get(version, (0, None, None))
            fields: tuple[str, ...] = ()
            if version in known:
                fields = tuple(schema_for(event_type, version).model_fields)
            versions.append(VersionStats(version, version in known, n, first, last, fields))
        lasts = [v.last_seen for v in versions if v.last_seen is not None]
        entries.append(
            CatalogueEntry(
                event_type=event_type,
                versions=tuple(versions),
                events=sum(v.events for v in versions),
                last_seen=max(lasts) if lasts else None,
                registered=bool(known),
            )
        )
    return entries


def batch_log(lake: EventLake, *, limit: int = 50) -> list[BatchRecord]:
    """The last ``limit`` batches written or quarantined, newest first."""
    records: list[BatchRecord] = []
    for commit in lake.history(limit=limit * 2):
        if commit.batch is None:
            continue  # maintenance (optimize, vacuum), not a batch
        records.append(
            BatchRecord(
                batch_id=commit.batch,
                at=commit.written_at or commit.timestamp,
                events=commit.rows or 0,
                status="passed" if not commit.batch.startswith("release-") else "released",
                version=commit.version,
            )
        )
    records += [BatchRecord.of_quarantined(q) for q in lake.quarantine.batches(limit=limit)]
    records.sort(key=lambda r: (r.at, r.batch_id), reverse=True)
    return records[:limit]

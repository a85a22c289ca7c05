"""The lake on Delta: migration from the old layout, time travel, compaction, retention,
schema evolution."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from finbridge.core.errors import ValidationError
from finbridge.lake import Event, EventLake
from finbridge.lake.eventlake import LegacyLakeError, table_schema
from finbridge.lake.legacy import DONE_DIR, LEGACY_DIR, migrate_legacy, write_legacy_batch

from .conftest import T0


def _cards(card_event: Callable[..., Event], n: int, start: int = 0) -> list[Event]:
    return [
        card_event(f"t{i}", f"c{i % 3}", f"{i + 1}.00", T0 + timedelta(hours=i))
        for i in range(start, start + n)
    ]


def test_a_lake_written_by_the_old_code_migrates_once(
    tmp_path: Path, card_event: Callable[..., Event]
) -> None:
    root = tmp_path / "lake"
    events = _cards(card_event, 40)
    write_legacy_batch(root, events[:30], batch="outbox-1")
    write_legacy_batch(root, events[20:], batch="outbox-2")  # an overlapping retry: 10 twice
    with pytest.raises(LegacyLakeError, match="lake migrate"):
        EventLake(root).count()
    result = migrate_legacy(root)
    assert (result.status, result.events) == ("migrated", 40)
    assert result.files >= 2 and result.legacy_dir == root / DONE_DIR
    assert not (root / LEGACY_DIR).exists()
    lake = EventLake(root)
    assert lake.count() == 40
    assert {e.event_id for e in lake.events(limit=1000)} == {e.event_id for e in events}
    [stored] = [e for e in lake.events(limit=1000) if e.event_id == events[7].event_id]
    assert stored.to_event() == events[7]
    again = migrate_legacy(root)
    assert again.status == "already" and EventLake(root).count() == 40
    assert migrate_legacy(root, remove_legacy=True).legacy_dir is None
    assert not (root / DONE_DIR).exists() and migrate_legacy(root).status == "already"


def test_time_travel_compaction_and_retention(
    lake: EventLake, card_event: Callable[..., Event]
) -> None:
    for b in range(6):
        lake.append(_cards(card_event, 5, start=5 * b), batch=f"b{b}")
    assert lake.version() == 5
    files_before = len(lake.files())
    then = lake.as_of(version=2)
    assert then.count() == 15 and lake.count() == 30
    metrics = lake.optimize()
    assert metrics["numFilesRemoved"] == files_before
    assert len(lake.files()) < files_before and lake.count() == 30
    assert lake.as_of(version=2).count() == 15  # old versions still readable
    [last, *_] = lake.history()
    assert last.operation == "OPTIMIZE"
    writes = [c for c in lake.history(limit=None) if c.operation == "WRITE"]
    assert len(writes) == 6 and all(c.rows == 5 and c.batch for c in writes)
    at = lake.as_of(at=writes[-1].timestamp)  # the first write's instant
    assert at.count() >= 5
    with pytest.raises(ValidationError, match="read-only"):
        then.append(_cards(card_event, 1, start=99), batch="late")
    with pytest.raises(ValidationError, match="does not exist"):
        lake.as_of(version=99)
    with pytest.raises(ValidationError, match="at least 7 days"):
        lake.vacuum(retain=timedelta(hours=1))
    assert lake.vacuum(dry_run=True) == []  # every file is younger than the retention


def test_a_new_optional_column_is_fine_a_changed_type_is_refused(
    lake: EventLake, card_event: Callable[..., Event]
) -> None:
    lake.append(_cards(card_event, 2), batch="b1")
    base = lake.query_arrow("SELECT * EXCLUDE (event_type, date) FROM events")
    base = base.append_column("event_type", pa.array(["card.transaction"] * 2))
    base = base.append_column("date", pa.array([T0.date()] * 2, pa.date32()))
    base = base.cast(table_schema())
    fresh = base.set_column(0, "event_id", pa.array(["n1", "n2"]))
    evolved = fresh.append_column(pa.field("trace_id", pa.string()), pa.array(["x", None]))
    assert not lake.append_arrow(evolved, batch="b2").quarantined
    assert lake.count() == 4
    changed = fresh.set_column(0, "event_id", pa.array(["n3", "n4"])).set_column(
        1, pa.field("schema_version", pa.string()), pa.array(["1", "1"])
    )
    with pytest.raises(ValidationError, match="'schema_version' is int32") as info:
        lake.append_arrow(changed, batch="b3")
    assert info.value.field == "schema_version" and lake.count() == 4

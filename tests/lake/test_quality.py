"""Data quality: check_frame's failures, batches quarantined whole, operators' decisions."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
from sqlalchemy import Engine

from finbridge.core.clock import ManualClock
from finbridge.core.errors import Conflict, NotFound
from finbridge.lake import Event, EventLake, Ingestor
from finbridge.lake.quality import QualityError, QualityPolicy, check_frame

from .conftest import T0


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0 + timedelta(days=1))


@pytest.fixture
def qlake(tmp_path: Path, clock: ManualClock) -> EventLake:
    return EventLake(tmp_path / "lake", clock=clock)


def test_a_good_frame_passes() -> None:
    frame = pa.table({"customer_id": ["a", "b"], "spend": [Decimal("1.50"), Decimal("2.00")]})
    report = check_frame(
        frame,
        name="spend",
        required=["customer_id"],
        unique=["customer_id"],
        ranges={"spend": (Decimal(0), None)},
    )
    assert report.passed and report.rows == 2
    report.raise_if_failed()


def test_every_failure_is_reported_with_its_column() -> None:
    frame = pa.table(
        {
            "customer_id": ["a", "a", None],
            "spend": [Decimal("-1.00"), Decimal("2.00"), Decimal("3.00")],
            "as_of": pa.array([T0 - timedelta(days=30)] * 3, pa.timestamp("us", tz="UTC")),
        }
    )
    report = check_frame(
        frame,
        name="features",
        dtypes={"spend": "object", "score": "float64"},
        required=["customer_id"],
        unique=["customer_id"],
        ranges={"spend": (Decimal(0), None)},
        time_column="as_of",
        fresh_after=T0 - timedelta(days=1),
        recent_rows=[100, 110, 90],
        volume_floor=0,
    )
    kinds = {(f.check, f.column) for f in report.failures}
    assert ("nulls", "customer_id") in kinds
    assert ("range", "spend") in kinds
    assert ("unique", "customer_id") in kinds
    assert ("schema", "score") in kinds
    assert ("freshness", None) in kinds
    assert ("volume", None) in kinds
    with pytest.raises(QualityError, match="quality check") as info:
        report.raise_if_failed()
    assert info.value.report is report


def _login(i: int, at: datetime, event_id: str | None = None) -> Event:
    event = Event("login", at, {"method": "totp", "success": True}, "test", f"c{i}").validated()
    if event_id is not None:
        object.__setattr__(event, "event_id", event_id)
    return event


def test_a_future_dated_batch_is_quarantined_whole_then_released(
    qlake: EventLake, clock: ManualClock
) -> None:
    good = _login(1, T0)
    future = _login(2, clock.now() + timedelta(hours=1))
    result = qlake.append([good, future], batch="b1")
    assert result.quarantined and result.files_written == 0
    assert any("occurred_at" in reason for reason in result.failures)
    assert qlake.count() == 0  # nothing of the batch reached the events table
    again = qlake.append([good, future], batch="b1")  # a retry quarantines it once
    assert again.quarantined
    [batch] = qlake.quarantine.batches()
    assert (batch.events, batch.status, batch.batch_id) == (2, "quarantined", result.batch_id)
    assert any("occurred_at" in r for r in batch.reasons)
    rows = qlake.quarantine.rows(batch.batch_id)
    assert sorted(rows.column("event_id").to_pylist()) == sorted([good.event_id, future.event_id])


def test_duplicate_event_ids_in_one_batch_are_quarantined(qlake: EventLake) -> None:
    result = qlake.append([_login(1, T0, "same"), _login(2, T0, "same")], batch="dup")
    assert result.quarantined
    assert any("event_id" in r and "share" in r for r in result.failures)


def test_volume_against_the_past_week(tmp_path: Path, clock: ManualClock) -> None:
    policy = QualityPolicy(volume_floor=20, volume_factor=5, volume_min_history=3)
    lake = EventLake(tmp_path / "lake", clock=clock, quality=policy)
    for b in range(3):
        lake.append([_login(i, T0 + timedelta(seconds=i)) for i in range(10)], batch=f"n{b}")
    spike = lake.append([_login(i, T0 + timedelta(seconds=i)) for i in range(100, 200)], batch="s")
    assert spike.quarantined and "volume" in spike.failures[0]
    clock.advance(timedelta(days=8))  # a week later the old batches no longer count
    later = lake.append([_login(i, T0 + timedelta(seconds=i)) for i in range(100, 200)], batch="t")
    assert not later.quarantined and lake.count() == 130


def test_unknown_batch_is_not_found(qlake: EventLake) -> None:
    with pytest.raises(NotFound):
        qlake.quarantine.rows("nope")


def test_a_decision_is_taken_once(qlake: EventLake, clock: ManualClock) -> None:
    result = qlake.append([_login(1, clock.now() + timedelta(days=1))], batch="f")
    assert result.batch_id is not None
    qlake.quarantine.decide(result.batch_id, "discard", "op-1", clock.now(), "bad feed")
    qlake.quarantine.decide(result.batch_id, "discard", "op-1", clock.now(), "retry")  # no-op
    with pytest.raises(Conflict, match="discarded"):
        qlake.quarantine.decide(result.batch_id, "release", "op-2", clock.now(), "")
    [batch] = qlake.quarantine.batches()
    assert (batch.status, batch.decided_by, batch.note) == ("discarded", "op-1", "bad feed")
    assert batch.decided_at == clock.now().astimezone(UTC)


def test_an_ingested_file_whose_batch_fails_says_so(
    sqlite_engine: Engine, tmp_path: Path, clock: ManualClock
) -> None:
    policy = QualityPolicy(volume_floor=5, volume_factor=2, volume_min_history=2)
    lake = EventLake(tmp_path / "lake", clock=clock, quality=policy)
    for b in range(2):
        lake.append([_login(i, T0 + timedelta(seconds=i)) for i in range(3)], batch=f"n{b}")
    rows = [
        {
            "id": f"r{i}",
            "event_type": "login",
            "schema_version": 1,
            "occurred_at": (T0 + timedelta(minutes=i)).isoformat(),
            "payload": {"method": "totp", "success": True},
        }
        for i in range(40)
    ]
    data = "\n".join(json.dumps(r) for r in rows).encode()
    report = Ingestor(sqlite_engine, lake, clock=clock).ingest_file(data, source="acme")
    assert report.accepted == 40 and report.quarantined
    assert "volume" in report.quarantined[0] and report.to_dict()["quarantined"]
    assert lake.count() == 6  # nothing of the file reached the events; all of it is kept
    assert sum(b.events for b in lake.quarantine.batches()) == 40

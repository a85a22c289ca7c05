"""The Parquet lake: hive layout, append-only files, dedup by event_id, DuckDB queries."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pyarrow.parquet as pq
import pytest

from finbridge.core.errors import ValidationError
from finbridge.lake import Event, EventLake

from .conftest import T0


def test_append_writes_hive_partitions_by_type_and_utc_date(
    lake: EventLake, card_event: Callable[..., Event]
) -> None:
    # Partitions follow the UTC date of occurred_at.
    events = [
        card_event("t1", "c1", "10.00", T0),
        card_event("t2", "c1", "11.00", T0 + timedelta(days=1)),
        Event("login", T0, {"method": "totp", "success": True}, "test", "c1").validated(),
    ]
    result = lake.append(events, batch="b1")
    assert (result.events, result.files_written, result.files_skipped) == (3, 3, 0)
    dirs = sorted(p.parent.relative_to(lake.events_dir).as_posix() for p in lake.files())
    assert dirs == [
        "event_type=card.transaction/date=2026-11-01",
        "event_type=card.transaction/date=2026-11-02",
        "event_type=login/date=2026-11-01",
    ]
    stored = pq.read_table(lake.files("login")[0])
    assert stored.column_names == [
        "event_id",
        "schema_version",
        "occurred_at",
        "subject_id",
        "source",
        "payload",
    ]
    assert stored.column("payload").to_pylist()[0].startswith('{"channel":"app"')


def test_read_back_is_typed_and_exact(lake: EventLake, card_event: Callable[..., Event]) -> None:
    event = card_event("t1", "c1", "1234567.89", T0)
    lake.append([event], batch="b1")
    [stored] = lake.events()
    assert stored.to_event() == event
    assert stored.occurred_at == T0 and stored.occurred_at.tzinfo is not None
    assert stored.payload["amount"] == "1234567.89"


def test_same_batch_twice_writes_nothing_and_never_rewrites(
    lake: EventLake, card_event: Callable[..., Event]
) -> None:
    events = [card_event(f"t{i}", "c1", "1.00", T0 + timedelta(minutes=i)) for i in range(5)]
    lake.append(events, batch="b1")
    [path] = lake.files()
    before = (path.stat().st_ino, path.stat().st_mtime_ns)
    again = lake.append(list(reversed(events)), batch="b1")
    assert (again.files_written, again.files_skipped) == (0, 1)
    assert (path.stat().st_ino, path.stat().st_mtime_ns) == before
    assert not list(lake.events_dir.rglob("*.tmp"))


def test_duplicates_across_files_are_invisible(
    lake: EventLake, card_event: Callable[..., Event]
) -> None:
    events = [card_event(f"t{i}", f"c{i % 2}", "2.00", T0 + timedelta(hours=i)) for i in range(6)]
    lake.append(events[:4], batch="first")
    lake.append(events[2:], batch="retry")  # overlapping retry, grouped differently
    assert len(lake.files()) == 2
    assert lake.count() == 6
    assert len(lake.events(limit=100)) == 6
    [row] = lake.query("SELECT count(*) AS n, count(DISTINCT event_id) AS d FROM events")
    assert row == {"n": 6, "d": 6}


def test_typed_filters(lake: EventLake, card_event: Callable[..., Event]) -> None:
    lake.append(
        [
            card_event("t1", "alice", "1.00", T0 - timedelta(days=3)),
            card_event("t2", "alice", "2.00", T0),
            card_event("t3", "bob", "3.00", T0),
            Event("login", T0, {"method": "totp", "success": True}, "t", "alice").validated(),
        ],
        batch="b1",
    )
    alice = lake.events(subject_id="alice")
    assert len(alice) == 3 and alice[-1].payload["transaction_id"] == "t1"  # newest first
    assert {e.event_type for e in alice[:2]} == {"login", "card.transaction"}
    cards = lake.events(event_type="card.transaction", since=T0 - timedelta(days=1))
    assert sorted(e.payload["transaction_id"] for e in cards) == ["t2", "t3"]
    early = lake.events(until=T0, newest_first=False)
    assert [e.payload["transaction_id"] for e in early] == ["t1"]
    assert lake.events(event_type="news.read") == []
    assert lake.counts_by_type() == {"card.transaction": 3, "login": 1}


def test_empty_lake_answers_queries(lake: EventLake) -> None:
    assert lake.events() == []
    assert lake.count() == 0
    assert lake.query("SELECT * FROM events") == []


def test_naive_filter_instant_is_refused(lake: EventLake) -> None:
    with pytest.raises(ValidationError, match="naive") as info:
        lake.events(since=datetime(2026, 11, 1))
    assert info.value.field == "since"


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("COPY (SELECT 1) TO 'x.csv'", "single SELECT"),
        ("SELECT 1; SELECT 2", "single SELECT"),
        ("SELECT * FROM read_csv('/etc/passwd')", "disabled by configuration|Permission"),
        ("SELECT * FROM nowhere", "nowhere"),
    ],
)
def test_query_is_read_only_and_confined_to_the_lake(
    lake: EventLake, sql: str, message: str
) -> None:
    with pytest.raises(ValidationError, match=message) as info:
        lake.query(sql)
    assert info.value.field == "sql"


def test_event_type_cannot_escape_the_lake_directory(lake: EventLake) -> None:
    bad = Event("login", T0, {}, "t")
    object.__setattr__(bad, "event_type", "../../etc")
    with pytest.raises(ValidationError, match="invalid event type"):
        lake.append([bad], batch="b1")
    with pytest.raises(ValidationError, match="invalid batch"):
        lake.append([], batch="../x")


def test_instants_compare_in_utc(lake: EventLake, card_event: Callable[..., Event]) -> None:
    lake.append(
        [card_event("t1", "c1", "1.00", datetime(2026, 11, 2, 0, 30, tzinfo=UTC))], batch="b1"
    )
    since = datetime.fromisoformat("2026-11-02T08:30:00+08:00")  # == 00:30 UTC
    assert len(lake.events(since=since)) == 1
    assert lake.events(since=since + timedelta(microseconds=1)) == []
    assert lake.events(until=since) == []

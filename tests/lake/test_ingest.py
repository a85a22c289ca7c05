"""Partner file ingestion: per-row validation, rejection reports, idempotency, size limits."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import Engine

from finbridge.core import ManualClock
from finbridge.core.errors import PayloadTooLarge, ValidationError
from finbridge.lake import EventLake, Ingestor, ingest_file

from .conftest import card_payload


def row(rid: str | None, **over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "event_type": "card.transaction",
        "schema_version": 1,
        "occurred_at": "2026-11-01T08:00:00+08:00",
        "subject_id": "c1",
        "payload": card_payload(rid or "tx", "c1", "12.50"),
    }
    if rid is not None:
        base["id"] = rid
    base.update(over)
    return base


def jsonl(*lines: dict[str, Any] | str) -> bytes:
    return ("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n").encode()


GOOD_AND_BAD = jsonl(
    row("r1"),  # line 1: good
    '{"id": "r2", "event_type": "login", ',  # line 2: malformed JSON
    row("r3", event_type="card.swiped"),  # line 3: unknown event type
    row("r4", schema_version=2),  # line 4: wrong schema version
    row("r5", occurred_at="2026-11-01T08:00:00"),  # line 5: naive timestamp
    {k: v for k, v in row("r6").items() if k != "occurred_at"},  # line 6: missing envelope field
    row("r7", payload=card_payload("r7", "c1", 12.5)),  # line 7: amount as a JSON number
    row("r8", payload={k: v for k, v in card_payload("r8", "c1", "1").items() if k != "currency"}),
    row("r9", schema_version="1"),  # line 9: mistyped version
    row("r10", colour="red"),  # line 10: unknown envelope field
    row("r1"),  # line 11: same id as line 1
    "[1, 2, 3]",  # line 12: not an object
    "",  # blank line: not a row
    row(None, event_type="login", payload={"method": "totp", "success": True}),  # line 14: good
    row("r15", occurred_at="2026-11-02T01:40:00Z"),  # line 15: 10 minutes after the clock
    row("r16", occurred_at="2026-11-02T01:33:00Z"),  # line 16: within clock skew, good
)
EXPECTED_REJECTIONS = [
    (2, "row", "malformed JSON"),
    (3, "event_type", "unknown event type 'card.swiped'"),
    (4, "schema_version", "no schema version 2"),
    (5, "occurred_at", "naive timestamp"),
    (6, "occurred_at", "required field is missing"),
    (7, "payload.amount", "valid string"),
    (8, "payload.currency", "required"),
    (9, "schema_version", "valid integer"),
    (10, "colour", "unknown field"),
    (11, "id", "duplicate of row 1"),
    (12, "row", "must be a JSON object"),
    (15, "occurred_at", "in the future"),
]


@pytest.fixture
def ingestor(sqlite_engine: Engine, lake: EventLake, clock: ManualClock) -> Ingestor:
    return Ingestor(sqlite_engine, lake, clock=clock, max_upload_bytes=64 * 1024)


def test_every_row_is_accepted_or_rejected_with_its_reason(
    ingestor: Ingestor, lake: EventLake
) -> None:
    report = ingestor.ingest_file(GOOD_AND_BAD, fmt="jsonl", source="acme", filename="a.jsonl")
    assert (report.total, report.accepted, report.rejected) == (15, 3, 12)
    got = [(r.row, r.field, r.reason) for r in report.rejections]
    assert len(got) == len(EXPECTED_REJECTIONS)
    for (row_no, field, reason), (e_row, e_field, e_reason) in zip(
        got, EXPECTED_REJECTIONS, strict=True
    ):
        assert (row_no, field) == (e_row, e_field), (row_no, field, reason)
        assert e_reason in reason, (row_no, reason)
    assert report.rejections[2].row_id == "r4"
    stored = lake.events(limit=10)
    assert sorted(e.event_type for e in stored) == ["card.transaction", "card.transaction", "login"]
    card = next(e for e in stored if e.payload.get("transaction_id") == "r1")
    assert card.source == "acme"
    assert card.occurred_at == datetime(2026, 11, 1, 0, 0, tzinfo=UTC)
    assert card.payload["amount"] == "12.50"


def test_reingesting_the_same_file_is_idempotent(ingestor: Ingestor, lake: EventLake) -> None:
    first = ingestor.ingest_file(GOOD_AND_BAD, fmt="jsonl", source="acme")
    files = lake.files()
    again = ingestor.ingest_file(GOOD_AND_BAD, fmt="jsonl", source="acme")
    assert again.replayed and not first.replayed
    assert again.id == first.id
    assert (again.accepted, again.rejections) == (first.accepted, first.rejections)
    assert lake.files() == files
    assert lake.count() == 3
    assert len(ingestor.list()) == 1


def test_the_same_rows_in_another_file_are_the_same_events(
    ingestor: Ingestor, lake: EventLake
) -> None:
    ingestor.ingest_file(jsonl(row("r1"), row("r2")), fmt="jsonl", source="acme")
    superset = ingestor.ingest_file(
        jsonl(row("r1"), row("r2"), row("r3")), fmt="jsonl", source="acme"
    )
    assert superset.accepted == 3
    assert lake.count() == 3  # r1 and r2 are not duplicated
    # The same row id from another source is another partner's event.
    ingestor.ingest_file(jsonl(row("r1")), fmt="jsonl", source="globex")
    assert lake.count() == 4


def test_rows_without_id_get_content_derived_ids(ingestor: Ingestor, lake: EventLake) -> None:
    ingestor.ingest_file(jsonl(row(None)), fmt="jsonl", source="acme")
    report = ingestor.ingest_file(jsonl(row(None), row(None, subject_id="c2")), source="acme")
    assert report.accepted == 2
    assert lake.count() == 2


def test_oversized_upload_is_refused_before_parsing(
    ingestor: Ingestor, lake: EventLake, tmp_path: Path
) -> None:
    big = jsonl(*[row(f"r{i}") for i in range(400)])
    assert len(big) > ingestor.max_upload_bytes
    with pytest.raises(PayloadTooLarge, match="exceeds the upload limit of 65536 bytes") as info:
        ingestor.ingest_file(big, fmt="jsonl", source="acme")
    assert info.value.field == "file"
    path = tmp_path / "big.jsonl"
    path.write_bytes(big)
    with pytest.raises(PayloadTooLarge, match="exceeds"):
        ingestor.ingest_file(path, source="acme")
    assert lake.count() == 0 and ingestor.list() == []


@pytest.mark.parametrize(
    ("data", "kwargs", "field", "message"),
    [
        (b"\n\n", {"fmt": "jsonl"}, "file", "no rows"),
        (b"PAR1 not really", {"fmt": "parquet"}, "file", "not a readable Parquet"),
        (b"{}", {"fmt": "csv"}, "format", "format must be one of"),
        (b"{}", {"fmt": "jsonl", "source": "bad source!"}, "source", "source must be"),
    ],
)
def test_unusable_files_are_refused_whole(
    ingestor: Ingestor, data: bytes, kwargs: dict[str, Any], field: str, message: str
) -> None:
    kwargs = {"source": "acme", **kwargs}
    with pytest.raises(ValidationError, match=message) as info:
        ingestor.ingest_file(data, **kwargs)
    assert info.value.field == field


def test_invalid_utf8_line_is_rejected_alone(ingestor: Ingestor) -> None:
    data = jsonl(row("r1")) + b'{"id": "\xff\xfe"}\n'
    report = ingestor.ingest_file(data, fmt="jsonl", source="acme")
    assert (report.accepted, report.rejected) == (1, 1)
    assert report.rejections[0].row == 2 and "UTF-8" in report.rejections[0].reason


def parquet_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def test_parquet_with_json_payload_column(ingestor: Ingestor, lake: EventLake) -> None:
    at = datetime(2026, 11, 1, 9, tzinfo=UTC)
    table = pa.table(
        {
            "id": ["p1", "p2", "p3"],
            "event_type": ["card.transaction", "card.transaction", "news.read"],
            "schema_version": pa.array([1, 1, 1], pa.int32()),
            "occurred_at": pa.array([at, at, at], pa.timestamp("us", tz="UTC")),
            "subject_id": ["c1", "c2", None],
            "payload": [
                json.dumps(card_payload("p1", "c1", "5.00")),
                "{not json",
                json.dumps({"article_id": "n1", "read_seconds": 12}),
            ],
        }
    )
    report = ingestor.ingest_file(parquet_bytes(table), source="acme", filename="feed.parquet")
    assert report.format == "parquet"
    assert (report.total, report.accepted, report.rejected) == (3, 2, 1)
    assert [(r.row, r.field, r.row_id) for r in report.rejections] == [(2, "payload", "p2")]
    assert lake.count() == 2


def test_parquet_with_struct_payload_and_naive_timestamps(ingestor: Ingestor) -> None:
    naive = datetime(2026, 11, 1, 9)  # a timestamp column without a time zone
    table = pa.table(
        {
            "id": ["p1"],
            "event_type": ["app.opened"],
            "schema_version": pa.array([1], pa.int64()),
            "occurred_at": pa.array([naive], pa.timestamp("us")),
            "payload": [{"app_version": "1.0", "platform": "ios"}],
        }
    )
    report = ingestor.ingest_file(parquet_bytes(table), fmt="parquet", source="acme")
    assert (report.accepted, report.rejected) == (0, 1)
    assert report.rejections[0].field == "occurred_at"
    assert "naive" in report.rejections[0].reason
    aware = table.set_column(
        3, "occurred_at", pa.array([naive.replace(tzinfo=UTC)], pa.timestamp("us", tz="UTC"))
    )
    assert ingestor.ingest_file(parquet_bytes(aware), fmt="parquet", source="acme").accepted == 1


def test_ingestion_record_is_stored_on_both_backends(
    engine: Engine, lake: EventLake, clock: ManualClock
) -> None:
    report = ingest_file(engine, lake, GOOD_AND_BAD, fmt="jsonl", source="acme", clock=clock)
    ingestor = Ingestor(engine, lake, clock=clock)
    stored = ingestor.get(report.id)
    assert stored.rejections == report.rejections
    assert stored.created_at == clock.now()
    assert (stored.total, stored.accepted, stored.rejected) == (15, 3, 12)
    assert [r.id for r in ingestor.list(with_rejections_only=True)] == [report.id]
    assert ingest_file(engine, lake, GOOD_AND_BAD, fmt="jsonl", source="acme").replayed

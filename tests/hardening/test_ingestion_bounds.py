"""A partner file costs bounded work and storage: the first rejections in full, counts by field
for all, and a mostly-bad file refused early with nothing stored."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine, func, select

from finbridge.core import ManualClock, NotFound, Principal, Role, ValidationError
from finbridge.lake import EventLake, EventService
from finbridge.lake.ingest import EARLY_STOP_ROWS, MAX_REPORTED_REJECTIONS, REJECTIONS_DIR
from finbridge.lake.tables import IngestionRow
from finbridge.platform import Platform

from .conftest import admin_of

GOOD = {
    "event_type": "app.opened",
    "schema_version": 1,
    "occurred_at": "2026-11-01T08:00:00+00:00",
    "subject_id": "c1",
    "payload": {"app_version": "5.1.0", "platform": "android"},
}
ADMIN = Principal.system("test")


@pytest.fixture
def service(engine: Engine, clock: ManualClock, tmp_path) -> EventService:  # type: ignore[no-untyped-def]
    return EventService(engine, EventLake(tmp_path / "lake"), clock)


def _lines(rows: list[object]) -> bytes:
    return ("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n").encode()


def test_the_report_keeps_the_first_rows_and_counts_the_rest(
    service: EventService, engine: Engine
) -> None:
    good = [{**GOOD, "id": f"g{i}"} for i in range(700)]
    bad = ["{}"] * 250 + [{**GOOD, "schema_version": 9, "id": f"b{i}"} for i in range(50)]
    report = service.ingest(ADMIN, _lines(good + bad), fmt="jsonl")
    assert (report.total, report.accepted, report.rejected) == (1000, 700, 300)
    assert len(report.rejections) == MAX_REPORTED_REJECTIONS
    assert sum(report.rejection_counts.values()) == 300
    assert report.rejection_counts["schema_version"] == 50
    stored = service.ingestion(ADMIN, report.id)
    assert stored.rejection_counts == report.rejection_counts
    assert len(stored.rejections) == MAX_REPORTED_REJECTIONS
    # The full report was streamed to the lake, referenced by the ingestion: all 300, in order.
    assert stored.rejections_file == f"rejections/{report.id}.jsonl.gz"
    full = list(service.ingestion_rejections(ADMIN, report.id))
    assert [r.row for r in full] == list(range(701, 1001))
    assert full[:MAX_REPORTED_REJECTIONS] == list(stored.rejections)
    assert {r.field for r in full[250:]} == {"schema_version"}
    path = service.lake.root / stored.rejections_file
    assert path.stat().st_mode & 0o777 == 0o600
    with engine.connect() as conn:  # the database row stays bounded
        kept = conn.execute(select(IngestionRow.rejections)).scalar_one()
    assert len(kept) == MAX_REPORTED_REJECTIONS


def test_a_mostly_bad_file_is_refused_early_and_nothing_is_stored(
    service: EventService, engine: Engine
) -> None:
    flood = _lines(["{}"] * 200_000)  # the attack: a few MB of empty objects
    with pytest.raises(ValidationError, match=f"of its first {EARLY_STOP_ROWS} rows") as err:
        service.ingest(ADMIN, flood, fmt="jsonl")
    assert err.value.field == "file"
    assert sum(err.value.extra["rejection_counts"].values()) > EARLY_STOP_ROWS // 2
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(IngestionRow)).scalar_one() == 0
    assert service.lake.files() == []
    assert list((service.lake.root / REJECTIONS_DIR).iterdir()) == []  # no report file either


def test_huge_reasons_and_ids_are_truncated(service: EventService) -> None:
    rows = [{**GOOD, "id": "x" * 5000, "event_type": "y" * 5000}] + [{**GOOD, "id": "ok"}] * 1
    report = service.ingest(ADMIN, _lines(rows), fmt="jsonl")
    rejection = report.rejections[0]
    assert len(rejection.reason) <= 300 and len(rejection.row_id or "") <= 100


def test_a_clean_file_has_no_report_file_and_a_partner_reads_only_its_own(
    service: EventService,
) -> None:
    clean = service.ingest(ADMIN, _lines([{**GOOD, "id": "c1"}]), fmt="jsonl")
    assert (
        clean.rejections_file is None and list(service.ingestion_rejections(ADMIN, clean.id)) == []
    )
    partner = Principal.operator("pk1", [Role.PARTNER])
    other = Principal.operator("pk2", [Role.PARTNER])
    mixed = service.ingest(partner, _lines([{**GOOD, "id": "p1"}, "{}"]), fmt="jsonl")
    assert [r.row for r in service.ingestion_rejections(partner, mixed.id)] == [2]
    with pytest.raises(NotFound):
        service.ingestion_rejections(other, mixed.id)


def test_the_full_report_over_http(lite_platform: Platform) -> None:
    api = admin_of(lite_platform)
    body = _lines([{**GOOD, "id": "h1"}, "{}", "[]"])
    made = api.post("/v1/events/ingest", files={"file": ("p.jsonl", body)})
    assert made.status_code == 200, made.text
    got = api.get(f"/v1/events/ingestions/{made.json()['id']}/rejections")
    assert got.status_code == 200 and got.headers["content-type"] == "application/x-ndjson"
    assert [json.loads(line)["row"] for line in got.text.splitlines()] == [2, 3]
    assert api.get("/v1/events/ingestions/nope/rejections").status_code == 404

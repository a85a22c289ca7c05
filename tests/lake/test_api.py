"""``/v1/events`` through the real app: API keys, multipart uploads, problem+json errors."""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from tests.settings_support import test_settings as make_settings

from finbridge.core import ManualClock
from finbridge.core.principal import Principal, Role
from finbridge.core.settings import ApiSettings
from finbridge.lake import Event, EventLake
from finbridge.platform import Platform
from finbridge.site import create_app
from finbridge.store import make_engine

from .conftest import T0, card_payload

LIMIT = 8 * 1024


def line(rid: str, customer: str = "c1", **over: Any) -> str:
    row = {
        "id": rid,
        "event_type": "card.transaction",
        "schema_version": 1,
        "occurred_at": "2026-11-01T08:00:00Z",
        "subject_id": customer,
        "payload": card_payload(rid, customer, "9.99"),
    }
    row.update(over)
    return json.dumps(row)


FILE = "\n".join([line("r1"), line("r2", "c2"), line("r3", schema_version=3), "{oops"]).encode()


class Api:
    def __init__(self, client: TestClient, platform: Platform, keys: dict[str, str]) -> None:
        self.client = client
        self.platform = platform
        self.keys = keys

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}


@pytest.fixture(scope="module")
def api(_sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    data_dir = tmp_path_factory.mktemp("events-api")
    shutil.copyfile(_sqlite_template, data_dir / "finbridge.db")
    settings = make_settings(data_dir, api=ApiSettings(max_upload_bytes=LIMIT))
    clock = ManualClock(T0)
    engine = make_engine(settings.resolved_database_url)
    platform = Platform.build(settings, clock=clock, engine=engine)
    service = platform.api_keys
    keys = {
        "partner": service.issue("acme feed", [Role.PARTNER]).plaintext,
        "teller": service.issue("branch teller", [Role.TELLER]).plaintext,
        "admin": service.issue("ops", [Role.ADMIN]).plaintext,
        # A console session of customer c1 (the authenticator resolves it like a cookie).
        "customer": platform.identity.console_sessions.create(Principal.customer("c1")),
    }
    with TestClient(create_app(platform=platform)) as client:
        yield Api(client, platform, keys)
    platform.close()


def upload(api: Api, who: str, data: bytes, **form: str) -> Any:
    return api.client.post(
        "/v1/events/ingest",
        headers=api.headers(who),
        files={"file": ("feed.jsonl", data, "application/x-ndjson")},
        data=form,
    )


def test_partner_upload_returns_the_report(api: Api) -> None:
    response = upload(api, "partner", FILE)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["total"], body["accepted"], body["rejected"]) == (4, 2, 2)
    assert [(r["row"], r["field"]) for r in body["rejections"]] == [
        (3, "schema_version"),
        (4, "row"),
    ]
    assert body["source"].startswith("partner:") and body["filename"] == "feed.jsonl"
    again = upload(api, "partner", FILE).json()
    assert again["replayed"] is True and again["id"] == body["id"]

    listed = api.client.get("/v1/events/ingestions", headers=api.headers("teller"))
    assert [i["id"] for i in listed.json()] == [body["id"]]
    detail = api.client.get(f"/v1/events/ingestions/{body['id']}", headers=api.headers("teller"))
    assert detail.json()["rejections"][1]["reason"].startswith("malformed JSON")


def test_a_partner_cannot_write_under_another_source(api: Api) -> None:
    response = upload(api, "partner", FILE, source="globex")
    assert response.status_code == 403
    assert response.json()["field"] == "source"
    admin = upload(api, "admin", FILE, source="globex")
    assert admin.status_code == 200 and admin.json()["source"] == "globex"


def test_oversized_upload_is_413_problem_json(api: Api) -> None:
    big = "\n".join(line(f"r{i}") for i in range(60)).encode()
    assert len(big) > LIMIT
    response = upload(api, "partner", big)
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "payload_too_large"


@pytest.mark.parametrize(("who", "status"), [(None, 401), ("teller", 403), ("customer", 403)])
def test_ingest_needs_events_write(api: Api, who: str | None, status: int) -> None:
    headers = api.headers(who) if who else {}
    response = api.client.post(
        "/v1/events/ingest", headers=headers, files={"file": ("f.jsonl", FILE)}
    )
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/problem+json")


def test_bad_format_field_names_it(api: Api) -> None:
    response = upload(api, "partner", FILE, format="csv")
    assert response.status_code == 422
    assert response.json()["field"] == "format"


def test_event_queries_and_customer_isolation(api: Api) -> None:
    lake = EventLake(api.platform.lake_dir)
    lake.append(
        [
            Event("card.transaction", T0, card_payload("x1", "c1", "1.00"), "t", "c1").validated(),
            Event("card.transaction", T0, card_payload("x2", "c2", "2.00"), "t", "c2").validated(),
        ],
        batch="api-test",
    )
    teller = api.client.get(
        "/v1/events", headers=api.headers("teller"), params={"type": "card.transaction"}
    )
    assert teller.status_code == 200
    assert {e["subject_id"] for e in teller.json()} == {"c1", "c2"}

    mine = api.client.get("/v1/events", headers=api.headers("customer"))
    assert mine.status_code == 200
    assert mine.json() and {e["subject_id"] for e in mine.json()} == {"c1"}
    other = api.client.get("/v1/events", headers=api.headers("customer"), params={"subject": "c2"})
    assert other.status_code == 403
    reports = api.client.get("/v1/events/ingestions", headers=api.headers("customer"))
    assert reports.status_code == 403

    since = api.client.get(
        "/v1/events",
        headers=api.headers("teller"),
        params={"since": "2026-11-01T20:00:00+08:00", "subject": "c1"},
    )
    assert [e["payload"]["transaction_id"] for e in since.json()] == ["x1"]
    naive = api.client.get(
        "/v1/events", headers=api.headers("teller"), params={"since": "2026-11-01T00:00:00"}
    )
    assert naive.status_code == 422 and naive.json()["field"] == "since"


def test_unknown_ingestion_is_404(api: Api) -> None:
    response = api.client.get("/v1/events/ingestions/nope", headers=api.headers("teller"))
    assert response.status_code == 404
    assert response.json()["field"] == "ingestion_id"


def test_parquet_upload_is_recognised_by_its_name(api: Api) -> None:
    table = pa.table(
        {
            "id": ["pq1"],
            "event_type": ["page.viewed"],
            "schema_version": [1],
            "occurred_at": pa.array([T0], pa.timestamp("us", tz="UTC")),
            "subject_id": ["c1"],
            "payload": ['{"page": "/cards"}'],
        }
    )
    sink = io.BytesIO()
    pq.write_table(table, sink)
    response = api.client.post(
        "/v1/events/ingest",
        headers=api.headers("partner"),
        files={"file": ("pages.parquet", sink.getvalue(), "application/octet-stream")},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["format"], body["accepted"], body["rejected"]) == ("parquet", 1, 0)


def test_routes_are_documented(api: Api) -> None:
    paths = api.client.get("/openapi.json").json()["paths"]
    assert {"/v1/events", "/v1/events/ingest", "/v1/events/ingestions/{ingestion_id}"} <= set(paths)

"""Monitoring and the learning loop over HTTP: runs, retrain, rollback, scopes, bad input."""

from __future__ import annotations

from datetime import datetime
from importlib import resources
from pathlib import Path

import polars as pl
import pytest
from fastapi.testclient import TestClient

from finbridge.core import ManualClock, Role, Settings
from finbridge.core.settings import MonitoringSettings, RiskSettings
from finbridge.identity.apikeys import ApiKeyService
from finbridge.platform import Platform
from finbridge.site import create_app


@pytest.fixture
def clients(settings: Settings, sqlite_engine, clock: ManualClock, tmp_path: Path):
    src = resources.files("finbridge.datasets") / "fraud" / "fdh_300_customers.parquet"
    data = tmp_path / "labelled.parquet"
    frame = pl.read_parquet(str(src))
    frame.filter(pl.col("TX_DATETIME") < datetime(2018, 5, 6)).write_parquet(data)
    settings = settings.with_changes(
        risk=RiskSettings(use_model=False),  # no live model: the first challenger is promoted
        monitoring=MonitoringSettings(retrain_data=data, retrain_history_days=14),
    )
    platform = Platform(settings=settings, engine=sqlite_engine, clock=clock)
    keys = ApiKeyService(sqlite_engine, clock, settings.secret_key.get_secret_value())
    out = {}
    for role in (Role.RISK_ANALYST, Role.TELLER):
        c = TestClient(create_app(platform=platform))
        c.headers["Authorization"] = f"Bearer {keys.issue(role.value, [role]).plaintext}"
        out[role] = c
    return out


def test_monitoring_api(clients) -> None:
    analyst, teller = clients[Role.RISK_ANALYST], clients[Role.TELLER]
    r = analyst.post("/v1/monitoring/runs", json={"day": "2026-11-02", "engines": ["risk"]})
    assert r.status_code == 200 and r.json() == [], r.text  # no live model: nothing to watch
    r = analyst.post("/v1/monitoring/runs", json={"day": "yesterday"})
    assert r.status_code == 422 and r.json()["field"] == "day"
    assert teller.get("/v1/monitoring/runs?engine=risk").status_code == 403
    assert analyst.get("/v1/monitoring/runs?engine=quant").status_code == 422

    r = teller.post("/v1/monitoring/risk/retrain", json={})
    assert r.status_code == 403
    r = analyst.post("/v1/monitoring/risk/retrain", json={"as_of": "2018-05-06T00:00:00Z"})
    assert r.status_code == 200, r.text
    turn = r.json()
    assert turn["promote"] and turn["champion"] is None
    assert turn["reason"] == "there is no live model"
    assert turn["evaluation"]["from"] == "2018-04-22T00:00:00"
    models = analyst.get("/v1/risk/models").json()
    assert models["live"] == turn["challenger"]["version"]
    assert analyst.post("/v1/monitoring/risk/rollback").json() == {"live": None}
    r = analyst.post("/v1/monitoring/risk/rollback")
    assert r.status_code == 409
    r = analyst.post("/v1/monitoring/risk/retrain", json={"margin": 3})
    assert r.status_code == 422 and r.json()["field"] == "margin"
    # From the platform's own decisions: none here, so nothing to learn from, said as such.
    r = analyst.post("/v1/monitoring/risk/retrain", json={"source": "decisions"})
    assert r.status_code == 422 and "labelled frauds" in r.json()["detail"], r.text
    r = analyst.post("/v1/monitoring/risk/retrain", json={"source": "lake"})
    assert r.status_code == 422 and r.json()["field"] == "source"

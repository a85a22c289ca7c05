"""Console risk pages: rules (editor, validation, versions), backtest, shadow, cases."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from tests.risk.registry_support import register_tiny

from finbridge.core import ManualClock, Role, Settings
from finbridge.core.settings import RiskSettings
from finbridge.identity.apikeys import ApiKeyService
from finbridge.platform import Platform
from finbridge.site import create_app

HX = {"HX-Request": "true"}
BIG = {
    "name": "big",
    "rules": [{"name": "big", "expression": "amount > 100", "weight": 40, "reason": "big"}],
    "bands": [{"min_score": 30, "outcome": "review"}],
}


@pytest.fixture
def platform(settings: Settings, sqlite_engine, clock: ManualClock) -> Platform:
    settings = settings.with_changes(risk=RiskSettings(use_model=False))
    return Platform(settings=settings, engine=sqlite_engine, clock=clock)


def _login(platform: Platform, role: Role) -> tuple[TestClient, dict[str, str]]:
    """A console session (cookie) and, for seeding decisions, the same key as an API header."""
    secret = platform.settings.secret_key.get_secret_value()
    key = ApiKeyService(platform.engine, platform.clock, secret).issue(role.value, [role])
    client = TestClient(create_app(platform=platform))
    r = client.post("/console/login", data={"api_key": key.plaintext}, headers=HX)
    assert r.status_code == 204
    return client, {"Authorization": f"Bearer {key.plaintext}"}


def _decide(client: TestClient, api: dict[str, str], clock: ManualClock, n: int, start: int = 0):  # type: ignore[no-untyped-def]
    out = []
    for i in range(start, start + n):
        body = {"event_type": "withdrawal", "occurred_at": clock.now().isoformat(),
                "customer_id": f"c{i}", "amount": "500"}  # fmt: skip
        r = client.post("/v1/risk/decisions", json=body, headers=api)
        assert r.status_code == 200, r.text
        out.append(r.json())
        clock.advance(timedelta(minutes=1))
    return out


def _save_big(client: TestClient, api: dict[str, str]) -> str:
    r = client.post("/console/risk/drafts", data={"body": json.dumps(BIG)}, headers=HX)
    assert "Saved draft big@v1" in r.text
    return str(client.get("/v1/risk/rule-sets", headers=api).json()[0]["id"])


def test_rules_page_and_backtest_page(platform: Platform, clock: ManualClock) -> None:
    client, api = _login(platform, Role.RISK_ANALYST)
    page = client.get("/console/risk")
    assert page.status_code == 200 and "baseline@v0" in page.text and "Rule editor" in page.text
    assert 'id="risk-nav"' in page.text and 'href="/console/risk/shadow"' in page.text

    bad = {"name": "x", "rules": [{"name": "r", "expression": "amount > nope", "weight": 5}]}
    r = client.post("/console/risk/validate", data={"body": json.dumps(bad)}, headers=HX)
    assert "unknown feature &#39;nope&#39;" in r.text
    r = client.post("/console/risk/validate", data={"body": "{not json"}, headers=HX)
    assert "not valid JSON" in r.text
    set_id = _save_big(client, api)
    page = client.get("/console/risk")
    assert f'href="/console/risk/backtest?set_id={set_id}"' in page.text

    # No history yet: the page says so instead of failing.
    page = client.get(f"/console/risk/backtest?set_id={set_id}")
    assert page.status_code == 200 and "no stored decision history" in page.text
    assert f'<option value="{set_id}" selected>big@v1 (draft)' in page.text
    r = client.post("/console/risk/backtest", data={"set_id": set_id}, headers=HX)
    assert r.status_code == 422 and "no stored decision history" in r.text

    _decide(client, api, clock, 4)
    page = client.get(f"/console/risk/backtest?set_id={set_id}")
    assert "Backtest: big@v1 vs live baseline@v0" in page.text
    chart = re.search(r"id=\"risk-backtest-chart\"[^>]*data-echarts='([^']*)'", page.text)
    assert chart is not None
    option = json.loads(chart.group(1).replace("&#34;", '"'))
    assert [s["data"] for s in option["series"][:2]] == [[0], [4]]  # live flags none, big all 4
    r = client.post("/console/risk/backtest", data={"set_id": set_id}, headers=HX)
    assert r.status_code == 200 and "risk-backtest-chart" in r.text
    r = client.post(f"/console/risk/rule-sets/{set_id}/backtest", headers=HX)
    assert r.status_code == 200 and "risk-backtest-chart" in r.text and "data-echarts" in r.text
    r = client.post("/console/risk/backtest", data={"set_id": "nope"}, headers=HX)
    assert r.status_code == 404

    r = client.post(f"/console/risk/rule-sets/{set_id}/promote", headers=HX)
    assert "active" in r.text
    page = client.get("/console/risk/backtest")
    assert "No stored version besides the live one" in page.text  # the live one is not offered


def test_shadow_page_compares_and_promotes(platform: Platform, clock: ManualClock) -> None:
    register_tiny(platform.settings.data_dir, "cand-1")
    client, api = _login(platform, Role.RISK_ANALYST)
    page = client.get("/console/risk/shadow")
    assert page.status_code == 200 and "No shadow decisions yet" in page.text
    assert '<option value="cand-1">' in page.text and "Promote shadow" not in page.text

    set_id = _save_big(client, api)
    assert "shadow" in client.post(f"/console/risk/rule-sets/{set_id}/shadow", headers=HX).text
    r = client.post("/console/risk/shadow/model", data={"version": "cand-1"}, headers=HX)
    assert r.status_code == 200 and "Model cand-1 now scores in shadow" in r.text
    assert "Promote shadow model" in r.text and "Promote shadow rule set" in r.text
    r = client.post("/console/risk/shadow/model", data={"version": "../cand-1"}, headers=HX)
    assert r.status_code == 422 and "a model version is" in r.text
    r = client.post("/console/risk/shadow/model", data={"version": "cand-9"}, headers=HX)
    assert r.status_code == 404 and "no registered model version cand-9" in r.text

    _decide(client, api, clock, 3)
    page = client.get("/console/risk/shadow")
    assert "3 events decided by both; agreement 0.0%" in page.text
    assert "shadow model <code>cand-1</code>" in page.text
    chart = re.search(r"id=\"risk-shadow-chart\"[^>]*data-echarts='([^']*)'", page.text)
    assert chart is not None
    option = json.loads(chart.group(1).replace("&#34;", '"'))
    assert [s["data"] for s in option["series"]] == [[0], [3]]  # live approves, shadow reviews

    r = client.post("/console/risk/shadow/promote-model", headers=HX)
    assert "Model cand-1 is now live" in r.text and "Promote shadow model" not in r.text
    r = client.post("/console/risk/shadow/promote-model", headers=HX)
    assert r.status_code == 409 and "no shadow model" in r.text
    r = client.post("/console/risk/shadow/promote-rules", headers=HX)
    assert "big@v1 is now live" in r.text
    r = client.post("/console/risk/shadow/promote-rules", headers=HX)
    assert r.status_code == 409 and "no shadow rule set" in r.text
    d = _decide(client, api, clock, 1, start=9)[0]
    assert d["rule_set"] == "big@v1" and d["model_version"] == "cand-1" and "shadow" not in d

    assert client.post("/console/risk/shadow/model", data={"version": "cand-1"}, headers=HX)
    r = client.post("/console/risk/shadow/model", data={"version": ""}, headers=HX)
    assert "Stopped shadow model cand-1" in r.text


def test_cases_page_take_note_close(platform: Platform, clock: ManualClock) -> None:
    client, api = _login(platform, Role.RISK_ANALYST)
    set_id = _save_big(client, api)
    client.post(f"/console/risk/rule-sets/{set_id}/promote", headers=HX)
    assert "The review queue is empty" in client.get("/console/risk/cases").text
    case_id = _decide(client, api, clock, 1)[0]["case_id"]
    page = client.get("/console/risk/cases")
    assert page.status_code == 200 and f"/console/risk/cases/{case_id}/assign" in page.text

    r = client.post(f"/console/risk/cases/{case_id}/assign", headers=HX)
    assignee = client.get(f"/v1/risk/cases/{case_id}", headers=api).json()["assignee"]
    assert assignee and f"<td>{assignee}</td>" in r.text  # the key's id
    r = client.post(f"/console/risk/cases/{case_id}/note", data={"body": "called"}, headers=HX)
    assert f"Note added to case {case_id[:8]} (1 in all)" in r.text
    r = client.post(f"/console/risk/cases/{case_id}/note", data={"body": " "}, headers=HX)
    assert "note must be 1..4000 characters" in r.text
    r = client.post(f"/console/risk/cases/{case_id}/shred", headers=HX)
    assert "unknown action" in r.text
    r = client.post(f"/console/risk/cases/{case_id}/confirm", data={"body": "mule"}, headers=HX)
    assert "The review queue is empty" in r.text
    notes = client.get(f"/v1/risk/cases/{case_id}", headers=api).json()["notes"]
    assert [n["body"] for n in notes] == ["called", "mule"]


def test_risk_pages_refuse_without_risk_read(platform: Platform) -> None:
    client, _ = _login(platform, Role.TELLER)
    for path in ("/console/risk", "/console/risk/backtest", "/console/risk/shadow",
                 "/console/risk/cases"):  # fmt: skip
        r = client.get(path)
        assert r.status_code == 403 and "lacks scope &#39;risk:read&#39;" in r.text, path
        assert "baseline@v0" not in r.text
    for path in ("/console/risk/shadow/model", "/console/risk/shadow/promote-model",
                 "/console/risk/shadow/promote-rules", "/console/risk/backtest"):  # fmt: skip
        r = client.post(path, data={"version": "x", "set_id": "x"}, headers=HX)
        assert r.status_code == 403 and "baseline@v0" not in r.text, path
    r = client.post("/console/risk/cases/x/assign", headers=HX)
    assert r.status_code == 403

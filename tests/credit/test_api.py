"""Credit over HTTP: list, promote, score with consent + reasons + version, report, PSI."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from finbridge.core import Principal, Role, Settings
from finbridge.identity.apikeys import ApiKeyService
from finbridge.platform import Platform
from finbridge.site import create_app

ADMIN = Principal.system("credit-api-test")


@pytest.fixture
def app_client(settings: Settings, sqlite_engine, clock, german_scorecard, german_split):
    platform = Platform(settings=settings, engine=sqlite_engine, clock=clock)
    Xtr, Xte, ytr, yte = german_split
    from finbridge.credit.report import evaluate

    platform.credit.registry.register(
        ADMIN, "german", german_scorecard, X_train=Xtr, y_train=ytr,
        metrics={"auc": 0.79, "ks": 0.45, "gini": 0.58,
                 "evaluation": evaluate(german_scorecard, Xte, yte)},
    )  # fmt: skip
    secret = settings.secret_key.get_secret_value()
    key = ApiKeyService(sqlite_engine, clock, secret).issue("ops", [Role.ADMIN]).plaintext
    client = TestClient(create_app(platform=platform))
    client.headers["Authorization"] = f"Bearer {key}"
    return client, platform, Xte


def test_credit_api_flow(app_client):
    client, platform, Xte = app_client
    models = client.get("/v1/credit/models").json()
    assert models[0]["model_name"] == "german" and models[0]["status"] == "candidate"
    r = client.post("/v1/credit/models/german/versions/1/promote")
    assert r.status_code == 200 and r.json()["status"] == "live"
    applicant = {k: (v.item() if hasattr(v, "item") else v) for k, v in Xte.iloc[0].items()}
    body = {"applicant": applicant, "customer_id": "cust-42"}
    refused = client.post("/v1/credit/models/german/score", json=body)
    assert refused.status_code == 403 and refused.json()["code"] == "consent_required"
    platform.identity.consents.grant(ADMIN, "cust-42", "credit_scoring", ["credit"])
    ok = client.post("/v1/credit/models/german/score", json=body)
    assert ok.status_code == 200, ok.text
    decision = ok.json()
    assert decision["version"] == 1 and decision["band"] in "ABCDE" and decision["reasons"]
    assert (
        client.get("/v1/credit/scores", params={"customer_id": "cust-42"}).json()[0]["score_id"]
        == decision["score_id"]
    )
    html = client.get("/v1/credit/models/german/report")
    assert html.status_code == 200 and "<svg" in html.text and "ROC" in html.text
    rows = [dict(applicant, duration_in_month=72) for _ in range(50)]
    psi = client.post("/v1/credit/models/german/monitoring", json={"applicants": rows}).json()
    assert psi["status"] == "retrain" and psi["feature_psi"]["duration_in_month"] > 0.25


def test_credit_api_bad_input(app_client):
    client, platform, Xte = app_client
    client.post("/v1/credit/models/german/versions/1/promote")
    applicant = {k: (v.item() if hasattr(v, "item") else v) for k, v in Xte.iloc[0].items()}
    platform.identity.consents.grant(ADMIN, "cust-1", "credit_scoring", ["credit"])
    unseen = client.post(
        "/v1/credit/models/german/score",
        json={"applicant": dict(applicant, purpose="spaceship"), "customer_id": "cust-1"},
    )
    assert unseen.status_code == 422 and unseen.json()["field"] == "purpose"
    missing = client.post(
        "/v1/credit/models/german/score", json={"applicant": {"x": 1}, "customer_id": "cust-1"}
    )
    assert missing.status_code == 422 and "missing feature columns" in missing.json()["detail"]
    nope = {"applicant": {}, "customer_id": "cust-1"}
    assert client.post("/v1/credit/models/nope/score", json=nope).status_code == 404
    # Scoring is of a customer: without their id the request is refused, naming the field.
    anonymous = client.post("/v1/credit/models/german/score", json={"applicant": applicant})
    assert anonymous.status_code == 422 and "customer_id" in anonymous.text
    assert client.post("/v1/credit/models/german/versions/7/promote").status_code == 404
    anon = TestClient(client.app)
    assert anon.get("/v1/credit/models").status_code == 401


def _german_rows() -> list[dict[str, object]]:
    import json

    from finbridge.credit.datasets import german

    return json.loads(german().to_json(orient="records"))  # JSON's own types, as a client sends


def test_train_over_the_api_registers_a_version_with_its_decisions(app_client, settings, clock):
    client, platform, _ = app_client
    rows = _german_rows()
    body = {"rows": rows, "policy": {"target": "creditability", "seed": 3}}
    r = client.post("/v1/credit/models/german/train", json=body)
    assert r.status_code == 201, r.text
    made = r.json()
    assert (made["model_name"], made["version"], made["status"]) == ("german", 2, "candidate")
    assert made["kind"] == "scorecard" and made["auc"] > 0.7 and made["n_train"] == 750
    assert made["data_decisions"], "the profile's decisions are stored with the version"
    stored = platform.credit.get(ADMIN, "german", 2)
    assert stored.artifact_sha256 == made["artifact_sha256"]
    assert made["trained_by"] == stored.trained_by != ADMIN.id  # the API key's operator
    live = client.post(
        "/v1/credit/models/german/train",
        json={"rows": rows, "policy": {"target": "creditability", "kind": "lightgbm"},
              "promote": True},
    )  # fmt: skip
    assert live.status_code == 201 and live.json()["status"] == "live"
    assert live.json()["kind"] == "lightgbmchallenger"


def test_train_over_the_api_refuses_bad_input_and_registers_nothing(
    app_client, settings, sqlite_engine, clock
):
    client, platform, _ = app_client
    rows = _german_rows()
    before = len(platform.credit.list_versions(ADMIN, "german"))

    def post(body: dict[str, object], c: TestClient = client) -> tuple[int, dict[str, object]]:
        r = c.post("/v1/credit/models/german/train", json=body)
        return r.status_code, r.json()

    status, problem = post({"rows": rows})  # no target
    assert status == 422 and problem["field"] == "target"
    status, problem = post({"rows": rows, "policy": {"target": "nope"}})
    assert status == 422 and "'nope' not in the data" in problem["detail"]
    status, problem = post({"rows": rows, "policy": {"target": "creditability", "name": "other"}})
    assert status == 422 and problem["field"] == "policy.name"
    status, _ = post({"rows": rows, "policy": {"target": "creditability", "learning": "fast"}})
    assert status == 422  # an unknown policy key
    status, _ = post({"rows": [], "policy": {"target": "creditability"}})
    assert status == 422
    nested = [dict(row, purpose={"car": "new"}) for row in rows]  # a cell is a scalar
    status, problem = post({"rows": nested, "policy": {"target": "creditability"}})
    assert status == 422 and "rows.0.purpose" in problem["detail"]
    status, problem = post({"rows": rows[:40], "policy": {"target": "creditability"}})
    assert status == 422, problem  # too few rows per class for a held-out evaluation
    secret = settings.secret_key.get_secret_value()
    teller = ApiKeyService(sqlite_engine, clock, secret).issue("till", [Role.TELLER]).plaintext
    as_teller = TestClient(client.app, headers={"Authorization": f"Bearer {teller}"})
    status, _ = post({"rows": rows, "policy": {"target": "creditability"}}, as_teller)
    assert status == 403
    assert TestClient(client.app).post("/v1/credit/models/german/train").status_code == 401
    assert len(platform.credit.list_versions(ADMIN, "german")) == before

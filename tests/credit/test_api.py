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

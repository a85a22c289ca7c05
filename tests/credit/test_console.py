"""The console's credit pages: model list, demo training, report, score lookup with reasons."""

from __future__ import annotations

import html
import json

from fastapi.testclient import TestClient
from tests.api.conftest import issue_key

from finbridge.core import Principal, Role
from finbridge.platform import Platform
from finbridge.site import create_app

HX = {"HX-Request": "true"}


def test_credit_console(settings, sqlite_engine, clock) -> None:
    platform = Platform(settings=settings, engine=sqlite_engine, clock=clock)
    client = TestClient(create_app(platform=platform))
    assert client.get("/console/credit", follow_redirects=False).status_code in (302, 303, 307)
    login = client.post(
        "/console/login", data={"api_key": issue_key(platform, [Role.ADMIN])}, headers=HX
    )
    assert login.status_code == 204, login.text
    page = client.get("/console/credit")
    assert page.status_code == 200 and "No credit model yet." in page.text
    assert client.post("/console/credit/demo").status_code in (400, 403)  # not HTMX: refused
    models = client.post("/console/credit/demo", headers=HX)
    assert models.status_code == 200 and "german-demo" in models.text and "live" in models.text
    report = client.get("/console/credit/models/german-demo/report?version=1")
    assert report.status_code == 200 and "<svg" in report.text
    assert "default-src 'none'" in report.headers["content-security-policy"]
    page = client.get("/console/credit")
    example = page.text.split('name="applicant" rows="12" cols="80">')[1].split("</textarea>")[0]
    row = json.loads(html.unescape(example))
    refused = client.post(
        "/console/credit/score",
        data={"model": "german-demo", "customer_id": "cust-1", "applicant": json.dumps(row)},
        headers=HX,
    )
    assert "consent" in refused.text and 'role="alert"' in refused.text
    admin = Principal.system("console-test")
    platform.identity.consents.grant(admin, "cust-1", "credit_scoring", ["credit"])
    scored = client.post(
        "/console/credit/score",
        data={"model": "german-demo", "customer_id": "cust-1", "applicant": json.dumps(row)},
        headers=HX,
    )
    assert scored.status_code == 200 and "Score " in scored.text and "credit-reasons" in scored.text
    bad = client.post(
        "/console/credit/score",
        data={
            "model": "german-demo",
            "customer_id": "cust-1",
            "applicant": json.dumps({**row, "purpose": "spaceship"}),
        },
        headers=HX,
    )
    assert "unseen category" in bad.text and 'role="alert"' in bad.text
    assert 'href="/console/credit"' in page.text

"""The customer app's Invest page: questionnaire in the customer's language, profile, plan."""

from __future__ import annotations

from fastapi.testclient import TestClient
from tests.advisory.conftest import BALANCED
from tests.app import conftest as app_fixtures
from tests.app.conftest import Customer, csrf_of

from finbridge.advisory import ModelReport
from finbridge.platform import Platform

# The app's fixtures, by name (the real site, a signed-in customer).
platform = app_fixtures.platform
client = app_fixtures.client
zhang = app_fixtures.zhang
signed_in = app_fixtures.signed_in


def test_questionnaire_profile_and_plan(
    signed_in: TestClient, platform: Platform, zhang: Customer, small_models: ModelReport
) -> None:
    platform.advisory.use_models(small_models)
    home = signed_in.get("/app/advisory")
    assert home.status_code == 200 and "/app/advisory/questionnaire" in home.text
    assert "投资" in home.text  # the tab, in Chinese by default

    form = signed_in.get("/app/advisory/questionnaire")
    assert form.status_code == 200 and "您的年龄是？" in form.text
    token = csrf_of(form.text)
    missing = {k: str(v) for k, v in BALANCED.items() if k != "horizon"}
    bad = signed_in.post("/app/advisory/questionnaire", data={**missing, "csrf_token": token})
    assert bad.status_code == 422 and "horizon" in bad.text
    answers = {k: str(v) for k, v in BALANCED.items()}
    no_csrf = signed_in.post("/app/advisory/questionnaire", data=answers)
    assert no_csrf.status_code == 403
    done = signed_in.post(
        "/app/advisory/questionnaire", data={**answers, "csrf_token": token},
        follow_redirects=False,
    )  # fmt: skip
    assert done.status_code == 303
    assert platform.advisory.profile(zhang.principal, zhang.id).category == "C3"

    page = signed_in.get("/app/advisory")
    assert "C3" in page.text and 'action="/app/advisory/plan"' in page.text
    token = csrf_of(page.text)
    plan = signed_in.post(
        "/app/advisory/plan",
        data={"target": "50000", "target_date": "2040-01-01", "initial": "10000",
              "monthly": "200", "csrf_token": token},
    )  # fmt: skip
    assert plan.status_code == 200 and 'id="advisory-fan"' in plan.text
    assert "达成目标的概率" in plan.text and "2008" in plan.text
    past = signed_in.post(
        "/app/advisory/plan",
        data={"target": "50000", "target_date": "2001-01-01", "initial": "1",
              "csrf_token": token},
    )  # fmt: skip
    assert past.status_code == 422

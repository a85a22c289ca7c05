"""The customer app's Invest page: questionnaire in the customer's language, profile, plan."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from tests.advisory.conftest import BALANCED
from tests.app import conftest as app_fixtures
from tests.app.conftest import ZHANG, Customer, csrf_of, make_customer, sign_in

from finbridge.advisory import ModelReport
from finbridge.banking import GuardDecision, PostingIntent, Verdict
from finbridge.core import ManualClock, Principal, PrincipalKind, Settings
from finbridge.core.money import Money
from finbridge.identity import StepUpGuard
from finbridge.platform import Platform
from finbridge.site import create_app

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
    assert "达成目标的概率" in plan.text and "在 2008 年那样的糟糕年份" in plan.text
    past = signed_in.post(
        "/app/advisory/plan",
        data={"target": "50000", "target_date": "2001-01-01", "initial": "1",
              "csrf_token": token},
    )  # fmt: skip
    assert past.status_code == 422


class CustomersStepUp:
    """A risk stand-in that asks a customer's every posting for a second factor."""

    def check(self, intent: PostingIntent) -> GuardDecision:
        if intent.actor.kind is PrincipalKind.CUSTOMER:
            return GuardDecision(Verdict.STEP_UP, ("trades need a second factor",), "t")
        return GuardDecision.approve("t")

    def settle(self, intent: PostingIntent, decision: GuardDecision, *, posted: bool,
               reason: str | None) -> None:  # fmt: skip
        return None


def test_rebalancing_accepted_after_a_second_factor_and_automatic_chosen(
    settings: Settings,
    sqlite_engine: Engine,
    clock: ManualClock,
    small_models: ModelReport,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    platform = Platform(settings=settings, engine=sqlite_engine, clock=clock)
    platform.use_posting_guard(StepUpGuard(platform.identity.step_up, inner=CustomersStepUp()))
    platform.advisory.use_models(small_models)
    client = TestClient(create_app(platform=platform))
    zhang = make_customer(platform, clock, ZHANG)
    bank = Principal.system("test")
    platform.advisory.submit_profile(bank, zhang.id, BALANCED)  # C3
    platform.banking.deposit(bank, zhang.usd, Money.of("9000", "USD"), idempotency_key="usd")
    platform.advisory.subscribe(bank, zhang.id, account_id=zhang.usd, product_code="AGG",
                                amount=Money.of("3000", "USD"), idempotency_key="agg")  # fmt: skip
    clock.advance(timedelta(days=4))
    platform.advisory.settle_due(bank)
    sign_in(client, clock, zhang)
    clock.advance(timedelta(minutes=6))  # the sign-in's second factor is no longer fresh

    proposals: list[str] = []
    propose = platform.advisory.rebalance_proposal

    def counted(actor: Principal, customer: str, **kw: Any) -> Any:
        proposals.append(customer)
        return propose(actor, customer, **kw)

    monkeypatch.setattr(platform.advisory, "rebalance_proposal", counted)
    # The page itself works out no proposal: a link asks for it (HTMX, or the page again).
    plain = client.get("/app/advisory")
    assert plain.status_code == 200 and 'id="rebalance-check"' in plain.text
    assert 'id="rebalance-trades"' not in plain.text and proposals == []
    assert 'hx-get="/app/advisory/rebalance/proposal"' in plain.text
    assert 'href="/app/advisory?proposal=1#rebalancing"' in plain.text
    no_js = client.get("/app/advisory/rebalance/proposal", follow_redirects=False)
    assert no_js.status_code == 303 and no_js.headers["location"].endswith(
        "?proposal=1#rebalancing"
    )
    full = client.get("/app/advisory?proposal=1")
    assert 'id="rebalance-trades"' in full.text and proposals == [zhang.id]
    page = client.get("/app/advisory/rebalance/proposal", headers={"HX-Request": "true"})
    assert page.status_code == 200 and 'id="rebalance-trades"' in page.text
    assert "<html" not in page.text and proposals == [zhang.id] * 2  # the fragment alone
    key = page.text.split('name="key" value="')[1].split('"')[0]
    form = {"csrf_token": csrf_of(page.text), "key": key, "account_id": zhang.usd}
    no_csrf = client.post("/app/advisory/rebalance", data={**form, "csrf_token": ""})
    assert no_csrf.status_code == 403
    asked = client.post("/app/advisory/rebalance", data=form)
    assert asked.status_code == 403 and 'name="code"' in asked.text
    assert len(platform.advisory.orders(bank, zhang.id)) == 1  # nothing placed yet
    wrong = client.post("/app/advisory/rebalance", data={**form, "code": "000000"})
    assert wrong.status_code == 403 and 'name="code"' in wrong.text
    clock.advance(timedelta(seconds=30))
    done = client.post("/app/advisory/rebalance", data={**form, "code": zhang.totp.at(clock.now())})
    assert done.status_code == 200 and "已接受再平衡" in done.text, done.text
    placed = platform.advisory.orders(bank, zhang.id)
    assert len(placed) > 2 and any(o.side == "redeem" for o in placed)
    again = client.post("/app/advisory/rebalance", data=form)  # a double submit: same key
    assert again.status_code == 200 and len(platform.advisory.orders(bank, zhang.id)) == len(placed)

    auto = {"csrf_token": csrf_of(done.text), "account_id": zhang.usd, "automatic": "on"}
    saved = client.post("/app/advisory/rebalance/automatic", data=auto, follow_redirects=False)
    assert saved.status_code == 303
    choice = platform.advisory.rebalancing_choice(bank, zhang.id)
    assert choice is not None and choice.automatic and choice.account_id == zhang.usd
    foreign = client.post("/app/advisory/rebalance/automatic",
                          data={**auto, "account_id": "not-mine"})  # fmt: skip
    assert foreign.status_code == 422

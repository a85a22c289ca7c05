"""A bounded rerun of the attack run's authorisation probe on every /v1 route, walked from the
live app (so routes added since, lending, payments, advisory, acquisition, open banking,
approvals, are in it): customer A, signed in, sends the real ids of customer B's objects of every
kind a route takes (customer, accounts, a hold, a consent, a risk decision, a dual-control
approval on B's account, an FX quote, a P2P payment, a money request, a cross-border transfer,
a credit line with its application, a purchase and an instalment plan, a risk case, a login
session) to every route that names one, and gets neither a success nor a server error, and no
answer carries B's data; every list route asked for B's data (``?customer_id=``) shows nothing
of B's."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from decimal import Decimal

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine
from tests.api.conftest import customer_api, make_platform
from tests.lending.conftest import Checks, FixedScorer, Risk

from finbridge.banking import ApproveAll
from finbridge.core import ManualClock, Money, Principal, Role, Settings
from finbridge.core.errors import PendingApproval
from finbridge.core.settings import BankingSettings
from finbridge.lending import LendingService
from finbridge.payments import Beneficiary
from finbridge.platform import Platform
from finbridge.site import create_app
from finbridge.store.engine import unit_of_work

from .conftest import admin_of

# Routes a customer may call with another customer's id and get 2xx by design: a money request
# is a link its maker shares so that someone else pays it (the answer masks the payee).
_BY_DESIGN: set[tuple[str, str]] = {("GET", "/v1/payments/requests/{request_id}")}
# What A may get instead: 404 (not found, the usual answer for another customer's object),
# 403 (an operator-only route; the customer lacks the scope) or 422 (the probe's empty body,
# refused before any object is looked up).
_REFUSALS = {403, 404, 422}
# The kinds of B's objects the walk must name (a seeding that stops making one fails the test).
_KINDS = {
    "customer_id", "account_id", "hold_id", "consent_id", "event_id", "approval_id", "quote_id",
    "payment_id", "request_id", "transfer_id", "line_id", "application_id", "purchase_id",
    "plan_id", "case_id", "session_id",
}  # fmt: skip
# Reads of no customer's data that cost tens of seconds on first use (fitting the model
# portfolios): left out to keep the walk a few seconds.
_HEAVY = {"/v1/advisory/portfolios", "/v1/advisory/report"}


def _v1_routes(app: FastAPI) -> Iterator[tuple[str, str]]:
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI: included routes are flat on app.routes
        contexts = list(app.routes)
    else:
        contexts = list(iter_route_contexts(app.routes))
    for ctx in contexts:
        path = getattr(ctx, "path", "")
        if path.startswith("/v1/"):
            for method in sorted((getattr(ctx, "methods", None) or set()) - {"HEAD", "OPTIONS"}):
                yield method, path


def _b_objects(platform: Platform, b_id: str, b_acct: str) -> dict[str, str]:
    """Customer B's objects of every kind, made through the engines' faces as B (or the bank)
    would make them; their ids by the path parameter that names them."""
    ops, me = Principal.system("probe"), Principal.customer(b_id)
    teller = Principal.operator("probe-teller", [Role.TELLER])
    bank, pay = platform.banking, platform.payments
    cny = bank.open_account(ops, b_id, kind="current", currency_code="CNY").id
    usd = bank.open_account(ops, b_id, kind="current", currency_code="USD").id
    bank.deposit(ops, cny, Money.of("5000", "CNY"), idempotency_key="probe-cny")
    bank.deposit(ops, usd, Money.of("500", "USD"), idempotency_key="probe-usd")
    ids = {"customer_id": b_id, "account_id": b_acct}
    ids["hold_id"] = bank.place_hold(me, cny, Money.of("10", "CNY"), idempotency_key="h").id
    try:  # a teller's deposit above the (lowered) threshold waits for a second operator
        bank.deposit(teller, b_acct, Money.of("1000", "TWD"), idempotency_key="probe-big")
    except PendingApproval as waiting:
        ids["approval_id"] = str(waiting.extra["approval_id"])
    ids["consent_id"] = platform.identity.consents.grant(me, b_id, "marketing", ["contact"]).id
    decision = platform.risk.decide(ops, {
        "event_type": "transfer", "event_id": "probe-b-1", "occurred_at": platform.clock.now(),
        "customer_id": b_id, "amount": "12", "currency": "CNY", "account_id": cny,
        "payee_id": usd,
    })  # fmt: skip
    ids["event_id"] = str(decision.event_id)
    quote = pay.fx.quote(me, b_id, sell_currency="CNY", buy_currency="USD",
                         sell_amount=Money.of("100", "CNY"))  # fmt: skip
    ids["quote_id"] = quote.id
    ids["payment_id"] = pay.payments.send(
        me,
        from_account_id=cny,
        to_account_id=_other(platform),
        amount=Money.of("20", "CNY"),
        idempotency_key="p2p",
    ).id
    ids["request_id"] = pay.payments.request_money(
        me, to_account_id=cny, amount=Money.of("30", "CNY"), note="lunch"
    ).id
    beneficiary = Beneficiary(name="Hans Muller", country="DE", bic="DEUTDEFF",
                              iban="DE89370400440532013000",
                              address_lines=("Hauptstr. 1", "Berlin"))  # fmt: skip
    ids["transfer_id"] = pay.crossborder.send(
        me,
        from_account_id=usd,
        amount=Money.of("45", "USD"),
        beneficiary=beneficiary,
        purpose="GDDS",
        idempotency_key="xb",
    ).id
    # Lending with plain ports for identity, credit and risk (their engines test those).
    lending = LendingService(platform.engine, platform.clock, bank, checks=Checks(),
                             scorer=FixedScorer(), risk=Risk())  # fmt: skip
    platform._faces["lending"] = lending
    lending.install_catalogue(ops)
    app = lending.apply(
        ops, b_id, product_id="everyday@1", deposit_account_id=cny, income_band="medium",
        applicant={"LIMIT_BAL": 50000}, idempotency_key="probe-app",
    )  # fmt: skip
    assert app.line_id is not None, app.reasons
    ids["application_id"], ids["line_id"] = app.id, app.line_id
    ids["purchase_id"] = lending.authorise_purchase(
        me, app.line_id, Money.of("15", "CNY"), merchant="JD", idempotency_key="buy"
    ).id
    bought = lending.authorise_purchase(
        me, app.line_id, Money.of("600", "CNY"), merchant="JD", idempotency_key="buy-2"
    ).id
    lending.capture_purchase(ops, bought, idempotency_key="cap-2")
    ids["plan_id"] = lending.instalments.convert(me, "purchase", bought, 3).id
    ids["case_id"] = platform.risk.cases.open(
        ops, origin="probe", subject_id=ids["transfer_id"], customer_id=b_id,
        summary="B's cross-border transfer, for the probe",
    ).id  # fmt: skip
    sessions = platform.identity.sessions
    sessions.prepare()  # its signing key, written before the login's own transaction opens
    with unit_of_work(platform.engine, write=True) as session:  # B signed in on a phone
        sessions.open(session, b_id, device="B's phone", amr=["pwd"])
    ids["session_id"] = sessions.list(ops, b_id)[0].id
    return ids


def _other(platform: Platform) -> str:
    """A CNY account of a third customer: where B's P2P payment goes."""
    ops = Principal.system("probe")
    bank = platform.banking
    someone = bank.create_customer(ops, kind="personal", display_name="Cy").id
    return bank.open_account(ops, someone, kind="current", currency_code="CNY").id


@pytest.mark.slow  # about 150 requests; ~30 s on 2 loaded cores
def test_customer_a_never_reaches_customer_b(
    settings: Settings, sqlite_engine: Engine, clock: ManualClock
) -> None:
    # A low dual-control threshold, so an operator's movement on B's account waits.
    low = BankingSettings(dual_control={"TWD": Decimal("500")})
    platform = make_platform(settings.model_copy(update={"banking": low}), sqlite_engine, clock)
    # Access is under test, not fraud: B's many quick postings would trip the live rules.
    platform.use_posting_guard(ApproveAll())
    app = create_app(platform=platform)
    admin = admin_of(platform)
    a_id, b_id = admin.customer("Ada"), admin.customer("Bo")
    a_acct, b_acct = admin.account(a_id, "TWD"), admin.account(b_id, "TWD")
    admin.deposit(a_acct, "100", "TWD")
    admin.deposit(b_acct, "100", "TWD")
    a = customer_api(app, platform, a_id)
    b_ids = _b_objects(platform, b_id, b_acct)
    assert set(b_ids) == _KINDS
    routes = sorted(set(_v1_routes(app)))
    families = {p.split("/")[2] for _m, p in routes}
    assert {"lending", "payments", "advisory", "acquisition", "openbanking"} <= families
    reached: list[tuple[str, str, int]] = []
    leaked: list[tuple[str, str, str]] = []
    named: set[str] = set()
    probed = 0
    for method, path in routes:
        if "{" not in path:
            if method != "GET" or path in _HEAVY:
                continue
            r = a.get(path, params={"customer_id": b_id})
            assert r.status_code < 500, (path, r.text[:200])
            if r.status_code < 300:
                leaked += [(path, k, v) for k, v in b_ids.items() if v in r.text]
            probed += 1
            continue
        names = re.findall(r"\{([^}]+)\}", path)
        if not set(names) & set(b_ids):
            continue  # no object of B's to name here (unknown ids are the 404 walk's job)
        url = path
        for name in names:
            url = url.replace("{" + name + "}", b_ids.get(name, str(uuid.uuid4())))
        named |= set(names) & set(b_ids)
        if method == "GET":
            r = a.get(url)
        else:
            r = a.client.request(
                method, url, json={}, headers={**a.headers, "Idempotency-Key": "p"}
            )
        assert r.status_code < 500, (method, path, r.text[:200])
        if (method, path) not in _BY_DESIGN and r.status_code not in _REFUSALS:
            reached.append((method, path, r.status_code))
        # No answer carries B's data: none of B's ids but those A put in the URL itself.
        leaked += [(path, k, v) for k, v in b_ids.items() if v in r.text and v not in url]
        probed += 1
    assert probed >= 60
    assert named == _KINDS  # every kind of B's object was sent to some route
    assert reached == []
    assert leaked == []
    assert admin.balance(b_acct) == "100.00"  # nothing of B's moved
    assert platform.banking.approval(Principal.system("probe"), b_ids["approval_id"]).status == (
        "pending"
    )

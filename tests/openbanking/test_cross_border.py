"""Cross-border payment initiation: a consent of its own type and scope naming a beneficiary
abroad, shown on the consent screen; payments sent through payments' cross-border desk (held at
once, queued for the pacs.008) within a mandate's limits; refusals audited."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.openbanking.conftest import SYSTEM, Customer, csrf_of, make_app, returned_to, sign_in
from tests.openbanking.test_security import audited_as, refused
from thirdparty_app.client import ThirdPartyApp

from finbridge.core import ManualClock, Money, Principal
from finbridge.platform import Platform

IBAN = "DE89370400440532013000"
BENEFICIARY = {"name": "Anna Schmidt", "country": "DE", "bic": "COBADEFFXXX", "iban": IBAN}
MANDATE = {
    "type": "cross_border_mandate",
    "currency": "USD",
    "beneficiary": BENEFICIARY,
    "max_per_payment": "100.00",
    "max_total": "150.00",
    "expires_in_days": 30,
}


@pytest.fixture
def abroad(platform: Platform, client: TestClient, clock: ManualClock) -> ThirdPartyApp:
    scopes = ("accounts", "payments", "cross_border_payments")
    return make_app(platform, TestClient(client.app), clock, name="Remit", scopes=scopes)


def _connect(app: ThirdPartyApp, browser: TestClient, account: str, details: Any) -> str:
    """PAR, the consent screen (returned for checks), approval, the code exchanged."""
    url, verifier = app.push([details], state="x1")
    page = browser.get(url)
    assert page.status_code == 200, page.text
    form = {"decision": "approve", "account_ids": [account], "csrf_token": csrf_of(page.text)}
    done = browser.post(str(page.url), data=form, follow_redirects=False)
    app.exchange(ThirdPartyApp.callback(returned_to(done)), verifier=verifier, state="x1")
    return page.text


def test_a_mandate_abroad_pays_within_its_limits(
    platform: Platform,
    client: TestClient,
    clock: ManualClock,
    zhang: Customer,
    abroad: ThirdPartyApp,
) -> None:
    bank = platform.banking
    bank.deposit(SYSTEM, zhang.usd, Money.of("500.00", "USD"), idempotency_key="usd-in")
    sign_in(client, clock, zhang)
    screen = _connect(abroad, client, zhang.usd, MANDATE)
    assert "Anna Schmidt" in screen and "COBADEFFXXX" in screen and IBAN in screen

    paid = abroad.pay(amount="100.00", currency="USD", creditor=IBAN, key="r1")
    assert paid["status"] == "submitted" and paid["transfer_id"]
    again = abroad.pay(amount="100.00", currency="USD", creditor=IBAN, key="r1")
    assert again["payment_id"] == paid["payment_id"]  # the retry answers with the first
    sent = platform.payments.crossborder.get(SYSTEM, paid["transfer_id"])
    assert (sent.amount, sent.account_id, sent.customer_id) == (
        Money.of("100.00", "USD"), zhang.usd, zhang.id,
    )  # fmt: skip
    assert sent.beneficiary["iban"] == IBAN and sent.beneficiary["name"] == "Anna Schmidt"
    read = abroad.get(f"/open-banking/v1/payments/{paid['payment_id']}")
    assert read["transfer_status"] == sent.status == "ready"  # screened clear, awaiting pacs.008
    held = bank.balance(Principal.system(), zhang.usd)
    assert str(held.available.amount) == "400.00"  # held at once, sent with the next file

    over = ("100.01", "60.00")  # the per-payment limit, then the total (100 + 60 > 150)
    for n, amount in enumerate(over):
        refused(lambda a=amount, k=f"o{n}": abroad.pay(  # type: ignore[misc]
            amount=a, currency="USD", creditor=IBAN, key=k), 403, "insufficient_scope")  # fmt: skip
    other = "GB29NWBK60161331926819"
    refused(lambda: abroad.pay(amount="1.00", currency="USD", creditor=other, key="g"), 403,
            "insufficient_scope")  # fmt: skip
    assert abroad.pay(amount="50.00", currency="USD", creditor=IBAN, key="r2")["status"] == (
        "submitted"
    )
    assert str(bank.balance(Principal.system(), zhang.usd).available.amount) == "350.00"
    refusals = [r for r in platform.openbanking.audit.recent(limit=50) if r.outcome == "refused"]
    assert len(refusals) >= 3


def test_cross_border_needs_its_scope_and_a_whole_beneficiary(
    platform: Platform, client: TestClient, clock: ManualClock, tpp: ThirdPartyApp,
    abroad: ThirdPartyApp,
) -> None:  # fmt: skip
    refused(lambda: tpp.push([MANDATE], state="s"), 400, "invalid_scope")
    no_bic = MANDATE | {"beneficiary": {k: v for k, v in BENEFICIARY.items() if k != "bic"}}
    error = refused(lambda: abroad.push([no_bic], state="s"), 400, "invalid_authorization_details")
    assert "beneficiary.bic" in error.description or "required" in error.description
    both = MANDATE | {"beneficiary": BENEFICIARY | {"account": "12345"}}
    refused(lambda: abroad.push([both], state="s"), 400, "invalid_authorization_details")


def test_a_single_payment_abroad_is_consumed_and_a_bad_iban_rejected(
    platform: Platform,
    client: TestClient,
    clock: ManualClock,
    zhang: Customer,
    abroad: ThirdPartyApp,
) -> None:
    platform.banking.deposit(SYSTEM, zhang.usd, Money.of("80.00", "USD"), idempotency_key="u")
    sign_in(client, clock, zhang)
    bad = BENEFICIARY | {"iban": "DE89370400440532013001"}  # check digits wrong
    single = {"type": "cross_border_payment", "currency": "USD", "instructed_amount": "30.00"}
    # Refused at the pushed request, before a consent exists to show the customer.
    error = refused(lambda: abroad.push([single | {"beneficiary": bad}], state="b"), 400,
                    "invalid_authorization_details")  # fmt: skip
    assert error.description.startswith("authorization_details.beneficiary.iban: invalid IBAN")
    assert str(platform.banking.balance(SYSTEM, zhang.usd).available.amount) == "80.00"

    _connect(abroad, client, zhang.usd, single | {"beneficiary": BENEFICIARY})
    paid = abroad.pay(amount="30.00", currency="USD", creditor=IBAN, key="s1")
    assert paid["status"] == "submitted"
    consent = abroad.get(f"/open-banking/v1/consents/{paid['consent_id']}")
    assert consent["status"] == "consumed"
    refused(lambda: abroad.pay(amount="30.00", currency="USD", creditor=IBAN, key="s2"), 403,
            "insufficient_scope")  # fmt: skip


# (a change to the beneficiary, the field named, a word of the reason)
FAULTS = [
    ({"iban": "DE89370400440532013001"}, "iban", "checksum"),  # ISO 7064 check digits
    ({"iban": "DE8937040044053201300"}, "iban", "length"),  # DE is 22 characters
    ({"iban": "BE41539007547035", "country": "BE", "bic": "GKCCBEBB"}, "iban",
     "national checksum"),  # valid ISO digits, wrong Belgian check digits in the BBAN
    ({"iban": "FR1420041010050500013M02606"}, "iban", "not DE"),  # payments' agreement rule
    ({"bic": "COBADEF"}, "bic", "length"),
    ({"bic": "ABCDDEFFXXX"}, "bic", "registry"),  # well formed, no such German bank
    ({"name": "Anna \u263a Schmidt"}, "name", "character set"),
]  # fmt: skip


def test_a_beneficiary_abroad_is_checked_in_full_before_any_consent_exists(
    platform: Platform, abroad: ThirdPartyApp
) -> None:
    from finbridge.openbanking.tables import ConsentRow
    from finbridge.store.engine import unit_of_work

    for change, field, why in FAULTS:
        details = MANDATE | {"beneficiary": BENEFICIARY | change}
        error = refused(lambda d=details: abroad.push([d], state="s"), 400,  # type: ignore[misc]
                        "invalid_authorization_details")  # fmt: skip
        assert error.description.startswith(f"authorization_details.beneficiary.{field}:"), error
        assert why.lower() in error.description.lower(), error.description
        assert audited_as(platform, "par", "invalid_authorization_details", f"{field}: ")
    with unit_of_work(platform.engine, write=False) as session:
        assert session.query(ConsentRow).count() == 0  # nothing half-written
    # The beneficiary as sent in the other tests passes every check; a BIC where schwifty's
    # registry lists no banks (Hong Kong) is checked for its form only.
    assert "request_uri=" in abroad.push([MANDATE], state="ok")[0]
    hk = {"name": "Chan Tai Man", "country": "HK", "bic": "HSBCHKHHHKH", "account": "004123456"}
    assert "request_uri=" in abroad.push([MANDATE | {"beneficiary": hk}], state="hk")[0]

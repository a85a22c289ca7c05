"""Cross-border transfers linked to the other engines: sent in another currency through an FX
quote, and a screening hit as a case in risk's review queue whose verdict resolves the transfer
(through the platform's ports), on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from lxml import etree
from sqlalchemy import Engine
from tests.api.conftest import issue_key
from tests.payments.conftest import WalletFn, currency_sums, customer_of
from tests.payments.test_crossborder import HANS, SYSTEM, _pacs002, _pacs004
from tests.web.conftest import log_in

from finbridge.banking import ApproveAll, BankingService
from finbridge.core import (
    BusinessRuleViolation,
    Conflict,
    CurrencyMismatch,
    ManualClock,
    Money,
    NotFound,
    Principal,
    Role,
    Settings,
    ValidationError,
)
from finbridge.payments import SCREENING_ORIGIN, PaymentsService
from finbridge.payments import iso20022 as iso
from finbridge.payments.crossborder import Beneficiary
from finbridge.platform import Platform
from finbridge.site import create_app

LISTED = Beneficiary(name="Viktor Petrakis", country="DE", bic="DEUTDEFF",
                     iban="DE89370400440532013000")  # fmt: skip
ADMIN = Principal.operator("analyst-1", [Role.ADMIN])
HX = {"HX-Request": "true", "Origin": "http://testserver"}


def test_sending_abroad_in_another_currency_through_a_quote(
    pay: PaymentsService, wallets: WalletFn, bank: BankingService, engine: Engine
) -> None:
    me = wallets("Ada Wang", CNY="20000")
    actor = customer_of(me["CNY"])
    cid = me["CNY"].customer_id or ""
    q = pay.fx.quote(actor, cid, sell_currency="CNY", buy_currency="EUR",
                     buy_amount=Money.of("1000.00", "EUR"))  # fmt: skip
    cases: list[tuple[dict[str, object], type[Exception], str]] = [
        ({"amount": Money.of("999.99", "EUR")}, ValidationError, "amount"),
        ({"amount": Money.of("1000.00", "USD")}, CurrencyMismatch, "currency"),
        ({"quote_id": "0" * 32}, NotFound, "quote_id"),
    ]
    for change, error, field in cases:
        args: dict[str, object] = {"amount": Money.of("1000.00", "EUR"), "quote_id": q.id,
                                   "idempotency_key": f"bad-{field}"}  # fmt: skip
        args.update(change)
        with pytest.raises(error) as err:
            pay.crossborder.send(actor, from_account_id=me["CNY"].id, beneficiary=HANS,
                                 **args)  # type: ignore[arg-type]  # fmt: skip
        assert err.value.field == field  # type: ignore[attr-defined]
    assert bank.balance(SYSTEM, me["CNY"].id).balance == Money.of("20000", "CNY")  # untouched

    t = pay.crossborder.send(actor, from_account_id=me["CNY"].id,
                             amount=Money.of("1000.00", "EUR"), beneficiary=HANS,
                             idempotency_key="abroad", quote_id=q.id)  # fmt: skip
    assert (t.status, t.quote_id, t.amount, t.account_id) == (
        "ready", q.id, Money.of("1000.00", "EUR"), me["EUR"].id)  # fmt: skip
    cny = bank.balance(SYSTEM, me["CNY"].id).balance
    assert cny == Money.of("20000", "CNY") - q.sell
    eur = bank.balance(SYSTEM, me["EUR"].id)
    assert (eur.balance, eur.available) == (Money.of("1000.00", "EUR"), Money.zero("EUR"))
    again = pay.crossborder.send(actor, from_account_id=me["CNY"].id,
                                 amount=Money.of("1000.00", "EUR"), beneficiary=HANS,
                                 idempotency_key="abroad", quote_id=q.id)  # fmt: skip
    assert again.replayed and again.id == t.id
    assert bank.balance(SYSTEM, me["CNY"].id).balance == cny  # converted once
    with pytest.raises(Conflict, match="already used"):  # a quote buys one sending
        pay.crossborder.send(actor, from_account_id=me["CNY"].id,
                             amount=Money.of("1000.00", "EUR"), beneficiary=HANS,
                             idempotency_key="abroad-2", quote_id=q.id)  # fmt: skip

    [(_mid, xml)] = pay.crossborder.export_pacs008(SYSTEM)
    assert iso.schema(iso.PACS008).validate(etree.fromstring(xml))
    assert b'Ccy="EUR">1000.00<' in xml
    pay.crossborder.receive(SYSTEM, _pacs002(t.end_to_end_id, "ACSC"))
    assert bank.balance(SYSTEM, me["EUR"].id).balance == Money.zero("EUR")
    # A return gives back the sent currency, exactly, to the wallet it left from.
    pay.crossborder.receive(SYSTEM, _pacs004(t.end_to_end_id, "1000.00", "EUR"))
    assert bank.balance(SYSTEM, me["EUR"].id).balance == Money.of("1000.00", "EUR")
    assert set(currency_sums(engine).values()) == {0}  # FX position accounts included


def test_a_quote_needs_a_wallet_in_the_sent_currency(
    pay: PaymentsService, bank: BankingService, system: Principal
) -> None:
    cid = bank.create_customer(system, kind="personal", display_name="Only CNY").id
    cny = bank.open_account(system, cid, kind="current", currency_code="CNY").id
    bank.deposit(system, cny, Money.of("9000", "CNY"), idempotency_key=f"f-{cid}")
    actor = Principal.customer(cid)
    q = pay.fx.quote(actor, cid, sell_currency="CNY", buy_currency="EUR",
                     buy_amount=Money.of("100", "EUR"))  # fmt: skip
    with pytest.raises(BusinessRuleViolation, match="open a EUR account") as err:
        pay.crossborder.send(actor, from_account_id=cny, amount=Money.of("100", "EUR"),
                             beneficiary=HANS, idempotency_key="k", quote_id=q.id)  # fmt: skip
    assert err.value.field == "quote_id"
    assert bank.balance(system, cny).balance == Money.of("9000", "CNY")
    assert pay.fx.get_quote(actor, q.id).status == "open"


@pytest.fixture
def plat(engine: Engine, clock: ManualClock, settings: Settings) -> Platform:
    p = Platform(settings, engine, clock)
    p.use_posting_guard(ApproveAll())  # the risk guard has its own tests; this is the wiring
    return p


def _funded(plat: Platform, name: str) -> tuple[Principal, str]:
    bank = plat.banking
    cid = bank.create_customer(SYSTEM, kind="personal", display_name=name).id
    eur = bank.open_account(SYSTEM, cid, kind="current", currency_code="EUR").id
    bank.deposit(SYSTEM, eur, Money.of("100", "EUR"), idempotency_key=f"f-{cid}")
    return Principal.customer(cid), eur


def test_a_screening_hit_is_a_risk_case_whose_verdict_resolves_the_transfer(
    plat: Platform,
) -> None:
    xb = plat.payments.crossborder
    actor, eur = _funded(plat, "Ada Wang")
    held = xb.send(actor, from_account_id=eur, amount=Money.of("10", "EUR"), beneficiary=LISTED,
                   idempotency_key="hit-1")  # fmt: skip
    released = xb.send(actor, from_account_id=eur, amount=Money.of("20", "EUR"),
                       beneficiary=LISTED, idempotency_key="hit-2")  # fmt: skip
    assert held.status == released.status == "screening"
    assert held.case_id and released.case_id and held.case_id != released.case_id
    queue = {c.id: c for c in plat.risk.cases.queue(ADMIN, status="active")}
    case = queue[held.case_id]
    assert (case.origin, case.subject_id, case.customer_id, case.priority) == (
        SCREENING_ORIGIN, held.id, actor.customer_id, 1)  # fmt: skip
    assert case.summary and "DEMO-0001" in case.summary and case.decision_id is None
    assert plat.banking.balance(SYSTEM, eur).available == Money.of("70", "EUR")

    plat.risk.cases.close(ADMIN, held.case_id, "confirm", "same person")  # a true match
    assert xb.get(SYSTEM, held.id).status == "blocked"
    plat.risk.cases.close(ADMIN, released.case_id, "release", "different person")
    assert xb.get(SYSTEM, released.id).status == "ready"
    assert plat.banking.balance(SYSTEM, eur).available == Money.of("80", "EUR")
    closed = plat.risk.cases.get(ADMIN, held.case_id)
    assert (closed.status, closed.resolution, closed.label) == ("closed", "confirm", None)
    with pytest.raises(Conflict):  # decided once, in either place
        xb.decide_screening(ADMIN, released.id, release=False)


def test_a_payments_decision_closes_the_risk_case(plat: Platform) -> None:
    xb = plat.payments.crossborder
    actor, eur = _funded(plat, "Ada Wang")
    t = xb.send(actor, from_account_id=eur, amount=Money.of("10", "EUR"), beneficiary=LISTED,
                idempotency_key="hit")  # fmt: skip
    assert t.case_id is not None
    done = xb.decide_screening(ADMIN, t.id, release=False, note="true match")
    assert done.status == "blocked"
    case = plat.risk.cases.get(ADMIN, t.case_id)
    assert (case.status, case.resolution) == ("closed", "confirm")
    assert plat.banking.balance(SYSTEM, eur).available == Money.of("100", "EUR")
    assert t.case_id not in {c.id for c in plat.risk.cases.queue(ADMIN, status="active")}


def test_the_console_risk_queue_shows_the_hit_and_releases_it(
    settings: Settings, sqlite_engine: Engine, clock: ManualClock
) -> None:
    plat = Platform(settings=settings, engine=sqlite_engine, clock=clock)
    plat.use_posting_guard(ApproveAll())
    actor, eur = _funded(plat, "Ada Wang")
    t = plat.payments.crossborder.send(actor, from_account_id=eur, amount=Money.of("10", "EUR"),
                                       beneficiary=LISTED, idempotency_key="hit")  # fmt: skip
    client = TestClient(create_app(platform=plat))
    log_in(client, issue_key(plat, [Role.ADMIN]))
    # The queue's HTMX fragment (the full page also loads the fraud model: tests/risk has it).
    page = client.post(f"/console/risk/cases/{t.case_id}/note", data={"body": "checking"},
                       headers=HX)  # fmt: skip
    assert page.status_code == 200, page.text
    assert SCREENING_ORIGIN in page.text and "Viktor Orlanov Petrakis" in page.text
    assert "False positive: release" in page.text
    done = client.post(f"/console/risk/cases/{t.case_id}/release", data={"body": "not him"},
                       headers=HX)  # fmt: skip
    assert done.status_code == 200 and "The review queue is empty." in done.text
    assert plat.payments.crossborder.get(SYSTEM, t.id).status == "ready"

"""The sandbox: a sandbox app is approved at once and never listed in the store; its developer
authorises as a synthetic customer; its tokens carry the sandbox marker and read only the
seeded synthetic accounts. A sandbox token cannot read a real account, a real token cannot read
a sandbox one, a real customer never sees a sandbox app's request, and a marker that does not
match its app is refused. Sandbox payments pass the real consent, mandate and idempotency checks
between synthetic accounts and never touch the real ledger."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, text, update
from tests.openbanking.conftest import ACCOUNT_ACCESS, SYSTEM, Customer, make_app, sign_in
from tests.openbanking.test_security import connect, refused
from thirdparty_app.client import OAuthRefused, ThirdPartyApp

from finbridge.core import ManualClock, Money, Principal
from finbridge.core.errors import FinbridgeError, NotFound, ValidationError
from finbridge.openbanking.sandbox import SandboxBank
from finbridge.openbanking.tables import AppRow, SandboxAccountRow, SandboxRow
from finbridge.platform import Platform
from finbridge.store.engine import unit_of_work

DEV = SYSTEM.id  # the developer of make_app's apps: their sandbox is this one's


def _claims(token: str) -> dict[str, object]:
    body = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))  # type: ignore[no-any-return]


def authorise_in_sandbox(
    platform: Platform,
    app: ThirdPartyApp,
    customer: str,
    accounts: list[str],
    details: dict[str, str] | None = None,
    *,
    actor: Principal = SYSTEM,
) -> None:
    """``actor`` (the app's developer or an operator) authorises the app's pushed request as
    the synthetic ``customer``: account access, or the payment consent ``details``."""
    url, verifier = app.push(ACCOUNT_ACCESS if details is None else [details], state="sb")
    request_uri = parse_qs(urlsplit(url).query)["request_uri"][0]
    back = platform.openbanking.authorise_in_sandbox(
        actor, client_id=app.client_id, request_uri=request_uri, customer_id=customer,
        account_ids=accounts,
    )  # fmt: skip
    app.exchange(ThirdPartyApp.callback(back), verifier=verifier, state="sb")


def test_sandbox_and_real_tokens_each_read_only_their_own_world(
    platform: Platform,
    client: TestClient,
    clock: ManualClock,
    zhang: Customer,
    tpp: ThirdPartyApp,
) -> None:
    sbx = make_app(platform, TestClient(client.app), clock, name="Sandboxed", sandbox=True)
    store = platform.openbanking.apps.list(Principal.customer(zhang.id))
    assert [a.name for a in store] == ["Budget Buddy"]  # approved, yet never in the store
    ada = platform.openbanking.sandbox.customers(DEV)[0]
    mine = [a.id for a in ada.accounts]
    authorise_in_sandbox(platform, sbx, ada.id, mine)
    assert sbx.tokens is not None and _claims(sbx.tokens.access_token)["sandbox"] is True

    listed = sbx.get("/open-banking/v1/accounts")
    assert [a["account_id"] for a in listed] == mine
    balance = sbx.get(f"/open-banking/v1/accounts/{mine[0]}/balances")
    assert balance["booked"] == str(ada.accounts[0].balance.amount)
    moves = sbx.get(f"/open-banking/v1/accounts/{mine[0]}/transactions", limit="50")
    since = datetime(2026, 10, 1, tzinfo=UTC)  # the consent's transaction_from
    expected = platform.openbanking.sandbox.history(DEV, mine[0], since, clock.now(), 50)
    assert [m["amount"] for m in moves] == [str(abs(h.amount.amount)) for h in expected]
    assert len(moves) >= 5 and all(m["description"].startswith("Sandbox") for m in moves)

    # A sandbox token cannot read a real account ...
    for real in (zhang.current, zhang.savings):
        refused(lambda r=real: sbx.get(f"/open-banking/v1/accounts/{r}/balances"), 403,  # type: ignore[misc]
                "insufficient_scope")  # fmt: skip
    # ... nor can its developer put one in a sandbox consent, or authorise a real app there.
    with pytest.raises(NotFound):
        authorise_in_sandbox(platform, sbx, ada.id, [zhang.current])
    with pytest.raises(NotFound):
        authorise_in_sandbox(platform, tpp, ada.id, mine)

    # A real token cannot read a sandbox account.
    sign_in(client, clock, zhang)
    connect(tpp, client, [zhang.current])
    assert tpp.tokens is not None and "sandbox" not in _claims(tpp.tokens.access_token)
    refused(lambda: tpp.get(f"/open-banking/v1/accounts/{mine[0]}/balances"), 403,
            "insufficient_scope")  # fmt: skip
    # A real customer never sees a sandbox app's request (so cannot grant it real accounts).
    url, _ = sbx.push(ACCOUNT_ACCESS, state="x")
    assert client.get(url).status_code == 404

    # The marker must match the app: an app moved out of the sandbox loses its sandbox tokens.
    with unit_of_work(platform.engine) as session:
        session.execute(update(AppRow).where(AppRow.id == sbx.client_id).values(sandbox=False))
    refused(lambda: sbx.get("/open-banking/v1/accounts"), 401, "invalid_token")


def _real_ledger(platform: Platform) -> tuple[int, ...]:
    """Rows in banking's ledger, holds and accounts, and money events in the outbox (what the
    lake and every engine reading it would take for real money): a sandbox payment adds none."""
    with unit_of_work(platform.engine, write=False) as session:
        counts = [
            int(session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
            for table in ("banking_journal_entries", "banking_postings", "banking_holds",
                          "banking_accounts")
        ]  # fmt: skip
        events = session.execute(
            text(
                "SELECT count(*) FROM lake_outbox WHERE event_type NOT LIKE 'openbanking.consent%'"
            )
        ).scalar_one()
    return (*counts, int(events))


def _pay_consent(
    platform: Platform, app: ThirdPartyApp, customer: str, debtor: str, details: dict[str, str]
) -> None:
    authorise_in_sandbox(platform, app, customer, [debtor], details)


def test_sandbox_payments_pass_the_real_checks_and_never_touch_the_ledger(
    platform: Platform, client: TestClient, clock: ManualClock, zhang: Customer
) -> None:
    sbx = make_app(platform, TestClient(client.app), clock, name="Sandboxed", sandbox=True)
    bank = platform.openbanking.sandbox
    ada = bank.customers(DEV)[0]
    current, savings = (a.id for a in ada.accounts)
    before = _real_ledger(platform)
    start = {a: bank.balance(DEV, a).balance for a in (current, savings)}

    # A single payment: made once (a retry answers with it), then the consent is consumed.
    single = {"type": "payment", "instructed_amount": "12.34", "currency": "CNY",
              "creditor_account": savings}  # fmt: skip
    _pay_consent(platform, sbx, ada.id, current, single)
    paid = sbx.pay(amount="12.34", currency="CNY", creditor=savings, key="k1")
    assert paid["status"] == "completed" and paid["debtor_account"] == current
    assert sbx.pay(amount="12.34", currency="CNY", creditor=savings, key="k1") == paid
    assert sbx.get(f"/open-banking/v1/consents/{paid['consent_id']}")["status"] == "consumed"
    refused(lambda: sbx.pay(amount="12.34", currency="CNY", creditor=savings, key="k2"), 403,
            "insufficient_scope")  # fmt: skip
    assert bank.balance(DEV, current).balance == start[current] - Money.of("12.34", "CNY")
    assert bank.balance(DEV, savings).balance == start[savings] + Money.of("12.34", "CNY")
    newest = bank.history(DEV, savings, clock.now().replace(year=2000), clock.now()
                          + timedelta(seconds=1), 1)[0]  # fmt: skip
    assert newest.amount == Money.of("12.34", "CNY")

    # A mandate: per-payment and total limits, as for a real customer.
    clock.advance(timedelta(seconds=31))
    mandate = {"type": "payment_mandate", "currency": "CNY", "max_per_payment": "10.00",
               "max_total": "15.00", "creditor_account": savings}  # fmt: skip
    _pay_consent(platform, sbx, ada.id, current, mandate)
    refused(lambda: sbx.pay(amount="10.01", currency="CNY", creditor=savings, key="m0"), 403,
            "insufficient_scope")  # fmt: skip
    assert sbx.pay(amount="10.00", currency="CNY", creditor=savings, key="m1")["status"] == (
        "completed"
    )
    refused(lambda: sbx.pay(amount="5.01", currency="CNY", creditor=savings, key="m2"), 403,
            "insufficient_scope")  # fmt: skip
    refused(
        lambda: sbx.pay(amount="1.00", currency="CNY", creditor=current, key="m3"),
        403,
        "insufficient_scope",
    )  # not the mandate's creditor

    # Not one row in the real ledger, holds, accounts or the event stream.
    assert _real_ledger(platform) == before


def test_a_sandbox_payment_consent_names_only_sandbox_accounts(
    platform: Platform, client: TestClient, clock: ManualClock, zhang: Customer
) -> None:
    sbx = make_app(platform, TestClient(client.app), clock, name="Sandboxed", sandbox=True)
    ada, bo = platform.openbanking.sandbox.customers(DEV)[:2]
    cny, usd = bo.accounts[0].id, bo.accounts[1].id
    pay = {"type": "payment", "instructed_amount": "1.00", "currency": "CNY"}
    for creditor, field in (
        (zhang.savings, "creditor_account"),  # a real account
        (usd, "creditor_account"),  # another currency
        (ada.accounts[0].id, "creditor_account"),  # itself
    ):
        with pytest.raises(FinbridgeError) as info:
            _pay_consent(platform, sbx, ada.id, ada.accounts[0].id,
                         pay | {"creditor_account": creditor})  # fmt: skip
        assert (info.value.field or "").endswith(field), info.value
    with pytest.raises(ValidationError) as bad:  # paying from an account in another currency
        _pay_consent(platform, sbx, bo.id, usd, pay | {"creditor_account": ada.accounts[0].id})
    assert bad.value.field == "account_ids"

    # Too little synthetic money: rejected with its reason, nothing moved.
    big = pay | {"instructed_amount": "999999.00", "creditor_account": ada.accounts[0].id}
    _pay_consent(platform, sbx, bo.id, cny, big)
    before = platform.openbanking.sandbox.balance(DEV, cny).balance
    with pytest.raises(OAuthRefused) as short:
        sbx.pay(amount="999999.00", currency="CNY", creditor=ada.accounts[0].id, key="big")
    assert (short.value.status, short.value.error) == (422, "insufficient_funds"), short.value
    assert platform.openbanking.sandbox.balance(DEV, cny).balance == before
    payments = platform.openbanking.resources.payments_for(sbx.tokens.consent_id)  # type: ignore[union-attr]
    assert [(p.status, (p.reason or "")[:18]) for p in payments] == [
        ("rejected", "insufficient_funds")
    ]


def _unprefixed(account_id: str) -> str:
    """``sbx_1a2b3c4d_ada_1`` -> ``ada_1``: what every developer's sandbox has alike."""
    return account_id.split("_", 2)[2]


def test_the_sandbox_is_the_same_on_both_databases(
    sqlite_engine: Engine, pg_engine: Engine, clock: ManualClock
) -> None:
    seen = []
    for engine in (sqlite_engine, pg_engine):
        bank = SandboxBank(engine, clock)
        assert bank.seed(DEV) == 5 * 41 and bank.seed(DEV) == 0  # once: a second is a no-op
        accounts = [
            (_unprefixed(a.id), a.currency, a.balance)
            for c in bank.customers(DEV)
            for a in c.accounts
        ]
        first = bank.customers(DEV)[0].accounts[0].id
        history = [
            (h.amount, h.description)
            for h in bank.history(DEV, first, clock.now().replace(year=2000), clock.now(), 200)
        ]
        seen.append((accounts, history))
    assert seen[0] == seen[1] and len(seen[0][0]) == 5
    assert [a[0] for a in seen[0][0]] == ["ada_1", "ada_2", "bo_1", "bo_2", "cai_1"]


def test_two_servers_seeding_at_once_seed_once(engine: Engine, clock: ManualClock) -> None:
    from concurrent.futures import ThreadPoolExecutor

    banks = [SandboxBank(engine, clock) for _ in range(4)]
    with ThreadPoolExecutor(4) as pool:
        made = sorted(pool.map(lambda b: b.seed(DEV), banks))
    assert made == [0, 0, 0, 5 * 41]
    with unit_of_work(engine, write=False) as session:
        assert session.execute(text("SELECT count(*) FROM openbanking_sandboxes")).scalar() == 1


def test_racing_sandbox_payments_never_overdraw(engine: Engine, clock: ManualClock) -> None:
    """Six payments race from one account to another (both rows locked, in id order): what the
    balance allows passes, the rest are refused, the books still add up."""
    from concurrent.futures import ThreadPoolExecutor

    from finbridge.core.errors import InsufficientFunds

    bank = SandboxBank(engine, clock)
    bank.seed(DEV)
    cai = bank.customers(DEV)[2].accounts[0]  # one HKD account
    dan = cai.id.replace("cai_1", "dan_1")
    with unit_of_work(engine) as session:  # the counter-party: a second HKD account
        box = session.scalars(select(SandboxRow).where(SandboxRow.owner_id == DEV)).one()
        session.add(SandboxAccountRow(id=dan, sandbox_id=box.id, customer_id="sbx_dan",
                                      kind="current", currency="HKD", balance_minor=0,
                                      created_at=clock.now()))  # fmt: skip
    start = bank.balance(DEV, cai.id).balance
    share = Money.from_minor(start.minor // 4, "HKD")  # four fit, two do not

    def pay(n: int) -> str:
        try:
            return bank.transfer(DEV, cai.id, dan, share, reference=f"r{n}", description="race")
        except InsufficientFunds:
            return "refused"

    with ThreadPoolExecutor(6) as pool:
        outcomes = list(pool.map(pay, range(6)))
    assert outcomes.count("refused") == 2, outcomes
    paid = Money.from_minor(share.minor * 4, "HKD")
    assert bank.balance(DEV, cai.id).balance == start - paid
    assert bank.balance(DEV, dan).balance == paid
    moves = bank.history(DEV, dan, clock.now() - timedelta(days=1),
                         clock.now() + timedelta(seconds=1), 10)  # fmt: skip
    assert len(moves) == 4 and moves[0].balance_after == paid

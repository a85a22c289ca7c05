"""A sandbox per developer: each developer's sandbox apps read and pay only inside that
developer's own copy of the synthetic data (seeded on first use from the one seed, its own
ids), a grant of developer A can neither read nor move developer B's accounts even when its
consent is made to name them, a reset puts back one developer's sandbox and no other's, and the
migration gives the sandbox shared before to the developer whose sandbox app came first."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, text, update
from tests.api.conftest import issue_key
from tests.migration_support import alembic
from tests.openbanking.conftest import SYSTEM, make_app
from tests.openbanking.test_sandbox import authorise_in_sandbox
from thirdparty_app.client import OAuthRefused

from finbridge.core import ManualClock, Money, Principal, Role
from finbridge.core.errors import NotFound, PermissionDenied
from finbridge.openbanking.consents import aware
from finbridge.openbanking.sandbox import SandboxBank, is_sandbox_id
from finbridge.openbanking.tables import (
    AppRow,
    ConsentRow,
    SandboxAccountRow,
    SandboxPostingRow,
    SandboxRow,
)
from finbridge.platform import Platform, upgrade_database
from finbridge.store.engine import unit_of_work

DEV_A = Principal.operator("dev-a", [Role.PARTNER])
DEV_B = Principal.operator("dev-b", [Role.PARTNER])


def _balances(bank: SandboxBank, developer: str) -> dict[str, Money]:
    return {a.id: a.balance for c in bank.customers(developer) for a in c.accounts}


def _tail(account_id: str) -> str:
    return account_id.split("_", 2)[2]  # sbx_<8 hex>_ada_1 -> ada_1


def test_a_developers_grants_never_reach_another_developers_sandbox(
    platform: Platform, client: TestClient, clock: ManualClock
) -> None:
    a_app = make_app(platform, TestClient(client.app), clock, name="Alpha", sandbox=True,
                     owner=DEV_A)  # fmt: skip
    b_app = make_app(platform, TestClient(client.app), clock, name="Beta", sandbox=True,
                     owner=DEV_B)  # fmt: skip
    bank = platform.openbanking.sandbox
    a_ada, b_ada = bank.customers(DEV_A.id)[0], bank.customers(DEV_B.id)[0]
    a_current, a_savings = (x.id for x in a_ada.accounts)
    b_current, b_savings = (x.id for x in b_ada.accounts)
    # The same seeded data, under ids of each developer's own, all recognisable as sandbox ids.
    assert a_ada.id != b_ada.id and a_current != b_current
    assert all(is_sandbox_id(x) for x in (a_ada.id, b_ada.id, a_current, b_current))
    assert {_tail(k): v for k, v in _balances(bank, DEV_A.id).items()} == {
        _tail(k): v for k, v in _balances(bank, DEV_B.id).items()
    }
    b_before = _balances(bank, DEV_B.id)

    # B's developer cannot authorise A's app; A's app cannot be given B's customer or accounts.
    with pytest.raises(NotFound):
        authorise_in_sandbox(platform, a_app, a_ada.id, [a_current], actor=DEV_B)
    for customer, accounts in ((b_ada.id, [b_current]), (a_ada.id, [b_current]),
                               (a_ada.id, [a_current, b_savings])):  # fmt: skip
        with pytest.raises(NotFound):
            authorise_in_sandbox(platform, a_app, customer, accounts, actor=DEV_A)
    pay_b = {"type": "payment", "instructed_amount": "1.00", "currency": "CNY",
             "creditor_account": b_savings}  # fmt: skip
    with pytest.raises(NotFound) as creditor:
        authorise_in_sandbox(platform, a_app, a_ada.id, [a_current], pay_b, actor=DEV_A)
    assert (creditor.value.field or "").endswith("creditor_account")

    # A pays inside its own sandbox: B sees nothing of it.
    mandate = {"type": "payment_mandate", "currency": "CNY", "max_per_payment": "50.00",
               "max_total": "100.00", "creditor_account": a_savings}  # fmt: skip
    authorise_in_sandbox(platform, a_app, a_ada.id, [a_current], mandate, actor=DEV_A)
    assert a_app.pay(amount="12.34", currency="CNY", creditor=a_savings, key="a1")["status"] == (
        "completed"
    )
    assert bank.balance(DEV_A.id, a_savings).balance == (
        b_before[b_savings] + Money.of("12.34", "CNY")
    )
    assert _balances(bank, DEV_B.id) == b_before

    # Even a consent made (here by hand) to name B's accounts reaches none of them: the sandbox
    # itself answers another developer's account as unknown, to reads and to payments.
    with unit_of_work(platform.engine) as session:
        session.execute(
            update(ConsentRow)
            .where(ConsentRow.id == a_app.tokens.consent_id)  # type: ignore[union-attr]
            .values(account_ids=[a_current, b_current], creditor_account_id=b_savings,
                    permissions=["accounts", "balances", "transactions"])
        )  # fmt: skip
    with pytest.raises(OAuthRefused) as read:
        a_app.get(f"/open-banking/v1/accounts/{b_current}/balances")
    assert read.value.status == 404, read.value
    with pytest.raises(OAuthRefused) as listed:
        a_app.get("/open-banking/v1/accounts")
    assert listed.value.status == 404, listed.value
    with pytest.raises(OAuthRefused) as paid:
        a_app.pay(amount="5.00", currency="CNY", creditor=b_savings, key="a2")
    assert paid.value.status == 404, paid.value
    with pytest.raises(OAuthRefused) as from_b:
        a_app.pay(amount="5.00", currency="CNY", creditor=b_savings, key="a3", debtor=b_current)
    assert from_b.value.status == 404, from_b.value
    assert _balances(bank, DEV_B.id) == b_before

    # B's own app still reads its own, untouched.
    authorise_in_sandbox(platform, b_app, b_ada.id, [b_current], actor=DEV_B)
    assert b_app.get(f"/open-banking/v1/accounts/{b_current}/balances")["booked"] == str(
        b_before[b_current].amount
    )


def test_the_sandbox_answers_only_for_its_own_developer(engine: Engine, clock: ManualClock) -> None:
    bank = SandboxBank(engine, clock)
    mine = bank.customers("dev-a")[0].accounts
    theirs = bank.customers("dev-b")[0].accounts
    for who, account in (("dev-a", theirs[0].id), ("dev-b", mine[0].id), ("nobody", mine[0].id)):
        with pytest.raises(NotFound):
            bank.account(who, account)
        with pytest.raises(NotFound):
            bank.history(who, account, clock.now() - timedelta(days=100), clock.now(), 5)
    with pytest.raises(NotFound, match="without a developer"):
        bank.account("", mine[0].id)
    one = Money.of("1.00", "CNY")
    for debtor, creditor, field in ((mine[0].id, theirs[1].id, "creditor_account"),
                                    (theirs[0].id, mine[1].id, "debtor_account"),
                                    (theirs[0].id, theirs[1].id, "debtor_account")):  # fmt: skip
        with pytest.raises(NotFound) as info:
            bank.transfer("dev-a", debtor, creditor, one, reference="x", description="")
        assert info.value.field == field
    assert bank.balance("dev-b", theirs[0].id).balance == theirs[0].balance
    bank.transfer("dev-a", mine[0].id, mine[1].id, one, reference="y", description="")
    assert bank.balance("dev-a", mine[1].id).balance == mine[1].balance + one


def test_a_reset_puts_back_one_developers_sandbox_and_no_other(
    engine: Engine, clock: ManualClock
) -> None:
    bank = SandboxBank(engine, clock)
    assert bank.reset("dev-new") == 5 * 41  # never used: a reset seeds it
    seeded = {d: _balances(bank, d) for d in ("dev-a", "dev-b")}
    b_seeded_at = bank.sandbox("dev-b").seeded_at
    for developer, cents in (("dev-a", "50.00"), ("dev-b", "7.00")):
        ada = bank.customers(developer)[0].accounts
        bank.transfer(developer, ada[0].id, ada[1].id, Money.of(cents, "CNY"), reference="r",
                      description="before the reset")  # fmt: skip
    clock.advance(timedelta(days=3))

    assert bank.reset("dev-a") == 5 * 41
    after = bank.sandbox("dev-a")
    assert after.seeded_at == clock.now()
    assert _balances(bank, "dev-a") == seeded["dev-a"]  # the same ids, the seeded balances
    ada_2 = after.customers[0].accounts[1].id
    history = bank.history("dev-a", ada_2, clock.now() - timedelta(days=400), clock.now(), 200)
    assert len(history) == 41 and "before the reset" not in {h.description for h in history}
    assert history[-1].created_at == clock.now() - timedelta(days=90)  # dated back from today
    # The other developer's sandbox: its payment stays, its seeding day too.
    b_ada = bank.customers("dev-b")[0].accounts
    assert bank.balance("dev-b", b_ada[1].id).balance == (
        seeded["dev-b"][b_ada[1].id] + Money.of("7.00", "CNY")
    )
    assert bank.sandbox("dev-b").seeded_at == b_seeded_at
    with unit_of_work(engine, write=False) as session:
        postings = session.scalar(select(sa.func.count()).select_from(SandboxPostingRow))
    assert postings == 3 * 5 * 41 + 2  # three sandboxes as seeded, plus dev-b's payment


def test_reset_is_the_developers_own_or_an_operators(
    platform: Platform, client: TestClient, clock: ManualClock
) -> None:
    ob = platform.openbanking
    a_app = make_app(platform, TestClient(client.app), clock, name="Alpha", sandbox=True,
                     owner=DEV_A)  # fmt: skip
    ada = ob.sandbox_of(DEV_A).customers[0]
    authorise_in_sandbox(platform, a_app, ada.id, [ada.accounts[0].id], actor=DEV_A)
    ob.sandbox.transfer(DEV_A.id, ada.accounts[0].id, ada.accounts[1].id,
                        Money.of("30.00", "CNY"), reference="r", description="")  # fmt: skip
    with pytest.raises(PermissionDenied):
        ob.reset_sandbox(DEV_B, DEV_A.id)  # another developer's
    with pytest.raises(PermissionDenied):
        ob.reset_sandbox(Principal.operator("teller", [Role.TELLER]))
    assert ob.sandbox.balance(DEV_A.id, ada.accounts[0].id).balance != ada.accounts[0].balance
    box = ob.reset_sandbox(SYSTEM, DEV_A.id)  # an operator looks after any developer's
    assert box.developer == DEV_A.id and box.customers[0] == ob.sandbox_of(DEV_A).customers[0]
    # The consent made before the reset still names the same accounts: it reads the fresh data.
    assert a_app.get(f"/open-banking/v1/accounts/{ada.accounts[0].id}/balances")["booked"] == (
        str(ada.accounts[0].balance.amount)
    )
    assert ob.reset_sandbox(DEV_A).developer == DEV_A.id


def test_the_api_shows_and_resets_the_callers_own_sandbox(
    platform: Platform, client: TestClient
) -> None:
    api = TestClient(client.app)

    def auth(key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}

    dev_a = auth(issue_key(platform, [Role.PARTNER], "dev a"))
    dev_b = auth(issue_key(platform, [Role.PARTNER], "dev b"))
    mine = api.get("/v1/openbanking/sandbox/customers", headers=dev_a)
    assert mine.status_code == 200, mine.text
    ids = [a["account_id"] for c in mine.json() for a in c["accounts"]]
    theirs = api.get("/v1/openbanking/sandbox/customers", headers=dev_b).json()
    assert len(ids) == 5 and not set(ids) & {a["account_id"] for c in theirs for a in c["accounts"]}

    reset = api.post("/v1/openbanking/sandbox/reset", headers=dev_a)
    assert reset.status_code == 200, reset.text
    body = reset.json()
    assert [a["account_id"] for c in body["customers"] for a in c["accounts"]] == ids
    other = api.post("/v1/openbanking/sandbox/reset", headers=dev_b,
                     params={"developer": body["developer"]})  # fmt: skip
    assert other.status_code == 403, other.text
    teller = auth(issue_key(platform, [Role.TELLER], "teller"))
    assert api.post("/v1/openbanking/sandbox/reset", headers=teller).status_code == 403
    admin = auth(issue_key(platform, [Role.ADMIN], "ops"))
    by_ops = api.post("/v1/openbanking/sandbox/reset", headers=admin,
                      params={"developer": body["developer"]})  # fmt: skip
    assert by_ops.status_code == 200 and by_ops.json()["developer"] == body["developer"]


# -- the migration -------------------------------------------------------------------------------
_OLD_ACCOUNTS = sa.table(  # openbanking_sandbox_accounts as it was before 0011
    "openbanking_sandbox_accounts",
    *(sa.column(c) for c in ("id", "customer_id", "kind", "currency", "balance_minor")),
    sa.column("created_at", sa.DateTime(timezone=True)),
)


def _old_shared_sandbox(engine: Engine, clock: ManualClock) -> dict[str, int]:
    """The one shared sandbox as the code before 0011 seeded it (ids ``sbx_customer_*``)."""
    from finbridge.openbanking.sandbox import _generate

    accounts, postings = _generate(SandboxRow(id="-", prefix="sbx_customer_"), clock.now())
    with unit_of_work(engine) as session:
        for a in accounts:
            session.execute(
                _OLD_ACCOUNTS.insert().values(
                    id=a.id, customer_id=a.customer_id, kind=a.kind, currency=a.currency,
                    balance_minor=a.balance_minor, created_at=a.created_at,
                )
            )  # fmt: skip
        session.add_all(postings)
    return {a.id: a.balance_minor for a in accounts}


def _sandbox_app(owner: str, clock: ManualClock, minutes: int) -> AppRow:
    return AppRow(
        id=f"app-{owner}", name=owner, developer=owner, category="other", description="",
        redirect_uris=["https://x.example/cb"], jwks={"keys": []}, scopes=["accounts"],
        status="approved", decided_by="sandbox", sandbox=True, owner_id=owner,
        created_at=clock.now() + timedelta(minutes=minutes),
    )  # fmt: skip


def test_the_migration_gives_the_shared_sandbox_to_the_first_sandbox_developer(
    engine: Engine, clock: ManualClock
) -> None:
    bank = SandboxBank(engine, clock)
    alembic(engine, "downgrade", "openbanking_0010")
    try:
        # No sandbox app: the rows are kept, owned by no one, and reach no developer.
        balances = _old_shared_sandbox(engine, clock)
        alembic(engine, "upgrade", "heads")
        with unit_of_work(engine, write=False) as session:
            legacy = session.scalars(select(SandboxRow)).one()
            kept = session.scalars(select(SandboxAccountRow)).all()
        assert (legacy.owner_id, legacy.prefix) == (None, "sbx_customer_")
        assert len(kept) == 5 and {r.sandbox_id for r in kept} == {legacy.id}
        assert aware(legacy.seeded_at) == clock.now()  # its accounts' opening + 90 days
        with pytest.raises(NotFound):
            bank.account("later-dev", "sbx_customer_ada_1")

        # With sandbox apps: the first registered one's developer keeps the ids it knows.
        alembic(engine, "downgrade", "openbanking_0010")
        with unit_of_work(engine) as session:
            assert session.execute(text("SELECT count(*) FROM openbanking_sandbox_accounts")
                                   ).scalar_one() == 5  # fmt: skip
            session.add_all([_sandbox_app("second", clock, 5), _sandbox_app("first", clock, 1)])
        alembic(engine, "upgrade", "heads")
    finally:
        upgrade_database(engine)
    ada = bank.account("first", "sbx_customer_ada_1")
    assert ada.balance == Money.from_minor(balances["sbx_customer_ada_1"], "CNY")
    assert (
        len(bank.history("first", ada.id, clock.now().replace(year=2000), clock.now(), 200)) == 41
    )
    with pytest.raises(NotFound):
        bank.account("second", "sbx_customer_ada_1")
    assert bank.seed("second") == 5 * 41  # the others are seeded their own on first use
    assert not bank.customers("second")[0].id.startswith("sbx_customer_")
    assert bank.seed("first") == 0


def test_payments_racing_a_reset_leave_the_books_adding_up(
    engine: Engine, clock: ManualClock
) -> None:
    """Payments and a reset at once (the reset locks the sandbox's rows in id order, as a
    payment locks its two): every payment lands before the reset (and is undone) or after it,
    so each balance is its postings' sum and its last posting's balance."""
    from concurrent.futures import ThreadPoolExecutor

    bank = SandboxBank(engine, clock)
    ada = bank.customers("dev-a")[0].accounts

    def act(n: int) -> object:
        if n == 3:
            return bank.reset("dev-a")
        return bank.transfer("dev-a", ada[n % 2].id, ada[1 - n % 2].id, Money.of("1.00", "CNY"),
                             reference=f"r{n}", description="racing")  # fmt: skip

    with ThreadPoolExecutor(4) as pool:
        assert len(list(pool.map(act, range(7)))) == 7
    with unit_of_work(engine, write=False) as session:
        for account in session.scalars(select(SandboxAccountRow)).all():
            moves = session.scalars(
                select(SandboxPostingRow)
                .where(SandboxPostingRow.account_id == account.id)
                .order_by(SandboxPostingRow.seq)
            ).all()
            assert [m.seq for m in moves] == list(range(len(moves)))
            assert account.balance_minor == sum(m.amount_minor for m in moves)
            assert account.balance_minor == moves[-1].balance_after_minor
    assert len(bank.history("dev-a", ada[0].id, clock.now().replace(year=2000),
                            clock.now() + timedelta(seconds=1), 200)) in range(41, 48)  # fmt: skip

"""Banking's read models for the app (``banking/service/_activity.py``) on SQLite and
PostgreSQL: accounts with the newest postings across them, and the database's history search."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine

from finbridge.core import ManualClock, Money, Principal, Settings
from finbridge.core.errors import NotFound, ValidationError
from finbridge.platform import Platform

from .conftest import LI, SYSTEM, ZHANG, make_customer, scripted_platform


@pytest.fixture
def world(settings: Settings, engine: Engine, clock: ManualClock) -> tuple[Platform, str, str]:
    platform = scripted_platform(settings, engine, clock)
    zhang = make_customer(platform, clock, ZHANG)
    li = make_customer(platform, clock, LI, funds="0")
    bank = platform.banking
    names = ["Coffee 50%", "午餐 面馆", "Rent_May", "COFFEE beans", "Books"]
    for i, name in enumerate(names):
        clock.advance(timedelta(minutes=1))
        account = zhang.current if i % 2 == 0 else zhang.savings
        if account == zhang.savings:
            bank.transfer(SYSTEM, zhang.current, zhang.savings, Money.of("10", "CNY"),
                          idempotency_key=f"s{i}", description="to savings")  # fmt: skip
        bank.transfer(SYSTEM, account, li.current, Money.of(f"{i + 1}", "CNY"),
                      idempotency_key=f"t{i}", description=name)  # fmt: skip
    return platform, zhang.id, li.id


def test_newest_postings_across_accounts(world: tuple[Platform, str, str]) -> None:
    platform, zhang, li = world
    me = Principal.customer(zhang)
    activity = platform.banking.customer_activity(me, zhang, recent=4)
    assert [a.currency for a in activity.accounts] == ["CNY", "CNY", "USD"]  # opened order
    got = [(p.item.description, str(p.item.amount.amount)) for p in activity.recent]
    # Both legs of the own-account transfer are the customer's postings.
    assert got[:2] == [("Books", "-5.00"), ("COFFEE beans", "-4.00")]
    assert sorted(got[2:]) == [("to savings", "-10.00"), ("to savings", "10.00")]
    ids = [p.item.posting_id for p in activity.recent]
    assert ids == sorted(ids, reverse=True)
    # The same as reading each account's history and merging (what the home page did).
    merged = sorted(
        (i for a in activity.accounts for i in platform.banking.history(me, a.id, limit=4).items),
        key=lambda i: i.posting_id,
        reverse=True,
    )[:4]
    assert [i.posting_id for i in merged] == ids
    assert {p.account_id for p in activity.recent} <= {a.id for a in activity.accounts}
    with pytest.raises(NotFound):  # another customer's id
        platform.banking.customer_activity(me, li)
    empty = platform.banking.customer_activity(SYSTEM, platform.banking.create_customer(
        SYSTEM, display_name="No Accounts", kind="personal").id)  # fmt: skip
    assert empty.accounts == [] and empty.recent == []


def test_search_in_the_database(world: tuple[Platform, str, str]) -> None:
    platform, zhang, li = world
    me = Principal.customer(zhang)
    current, savings, _usd = (a.id for a in platform.banking.customer_activity(me).accounts)
    find = platform.banking.search_history

    def found(q: str, account: str = current) -> list[str]:
        return [i.description for i in find(me, account, q).items]

    assert found("COFFEE") == ["Coffee 50%"]  # case-insensitive
    assert found("coffee", savings) == ["COFFEE beans"]
    assert found("50%") == ["Coffee 50%"]  # % and _ are text, not wildcards
    assert found("e_t") == [] and found("%") == ["Coffee 50%"]
    assert found("rent_") == ["Rent_May"]
    assert found("面馆", savings) == ["午餐 面馆"]
    assert found("deposit") == ["Salary"]  # the kind's name matches too
    assert found("to savings") == ["to savings", "to savings"]  # newest first
    first = find(me, current, "o", limit=2)
    assert first.next_cursor is not None
    rest = find(me, current, "o", limit=2, cursor=first.next_cursor)
    assert not {i.posting_id for i in first.items} & {i.posting_id for i in rest.items}
    li_account = platform.banking.customer_activity(Principal.customer(li)).accounts[0].id
    with pytest.raises(NotFound):
        find(me, li_account, "coffee")
    with pytest.raises(ValidationError):
        find(me, current, "   ")
    with pytest.raises(ValidationError):
        find(me, current, "x", cursor="abc")


def test_an_account_and_its_page_on_one_connection(world: tuple[Platform, str, str]) -> None:
    # The transaction list's read: the account (another customer's: not found) and a page,
    # the same page history and search give.
    platform, zhang, li = world
    me = Principal.customer(zhang)
    bank = platform.banking
    current = bank.customer_activity(me).accounts[0].id
    acc, page = bank.account_activity(me, current, limit=3)
    assert acc == bank.get_account(me, current)
    expected = bank.history(me, current, limit=3)
    assert [i.posting_id for i in page.items] == [i.posting_id for i in expected.items]
    assert page.next_cursor == expected.next_cursor is not None
    older = bank.account_activity(me, current, limit=3, cursor=page.next_cursor)[1]
    assert [i.posting_id for i in older.items] == [
        i.posting_id for i in bank.history(me, current, limit=3, cursor=page.next_cursor).items
    ]
    searched = bank.account_activity(me, current, " Coffee ")[1]
    assert [i.description for i in searched.items] == ["Coffee 50%"]
    li_account = bank.customer_activity(Principal.customer(li)).accounts[0].id
    with pytest.raises(NotFound):
        bank.account_activity(me, li_account)

"""The customer inbox: delivery (idempotent by ref), own-only reading, marking read."""

from __future__ import annotations

from datetime import timedelta

import pytest
from tests.identity.conftest import LI, ZHANG, enrol_customer

from finbridge.core import ManualClock, NotFound, PermissionDenied, Principal, ValidationError
from finbridge.core.principal import Role
from finbridge.identity import IdentityServices, OutgoingMessage

SYSTEM = Principal.system("test")


def test_deliver_list_and_mark_read(ids: IdentityServices, clock: ManualClock) -> None:
    a = enrol_customer(ids, ZHANG)
    me = Principal.customer(a)
    first = ids.inbox.deliver(SYSTEM, a, kind="offer", title="A loan offer", body="Rate 3.2%")
    clock.advance(timedelta(seconds=5))
    second = ids.inbox.deliver(
        SYSTEM, a, kind="breakfast", title="Finance breakfast", body="Markets", link="/app/x"
    )
    listed = ids.inbox.list(me, a)
    assert [m.id for m in listed] == [second.id, first.id]  # newest first
    assert ids.inbox.unread_count(me, a) == 2
    count, newest = ids.inbox.newest_unread(me, a)  # the home tile's one statement
    assert count == 2 and newest is not None and newest.id == second.id
    read = ids.inbox.mark_read(me, first.id)
    assert read.read_at is not None and not read.unread
    assert ids.inbox.unread_count(me, a) == 1
    assert [m.id for m in ids.inbox.list(me, a, unread_only=True)] == [second.id]
    assert ids.inbox.newest_unread(me, a)[0] == 1
    assert ids.inbox.mark_all_read(me, a) == 1
    assert ids.inbox.unread_count(me, a) == 0
    assert ids.inbox.newest_unread(me, a) == (0, None)
    with pytest.raises(NotFound):  # another customer's inbox is not found
        ids.inbox.newest_unread(Principal.customer("someone-else"), a)


def test_delivery_with_ref_is_idempotent(ids: IdentityServices) -> None:
    a = enrol_customer(ids, ZHANG)
    one = ids.inbox.deliver(SYSTEM, a, kind="breakfast", title="t", body="b", ref="2026-12-06")
    two = ids.inbox.deliver(SYSTEM, a, kind="breakfast", title="t2", body="b2", ref="2026-12-06")
    assert one.id == two.id
    assert len(ids.inbox.list(SYSTEM, a)) == 1


def test_customers_see_only_their_own(ids: IdentityServices) -> None:
    a = enrol_customer(ids, ZHANG)
    b = enrol_customer(ids, LI)
    msg = ids.inbox.deliver(SYSTEM, a, kind="notice", title="t", body="b")
    intruder = Principal.customer(b)
    with pytest.raises(NotFound):
        ids.inbox.get(intruder, msg.id)
    with pytest.raises(NotFound):
        ids.inbox.mark_read(intruder, msg.id)
    with pytest.raises(NotFound):
        ids.inbox.list(intruder, a)
    assert ids.inbox.get(Principal.customer(a), msg.id).read_at is None
    # The probes were audited as refused access.
    probes = [e for e in ids.audit.entries(subject=a) if e.action == "access.denied"]
    assert len(probes) >= 3


def test_only_the_platform_delivers(ids: IdentityServices) -> None:
    a = enrol_customer(ids, ZHANG)
    with pytest.raises(PermissionDenied):
        ids.inbox.deliver(Principal.customer(a), a, kind="notice", title="t", body="b")
    teller = Principal.operator("op1", [Role.TELLER])
    with pytest.raises(PermissionDenied):
        ids.inbox.deliver(teller, a, kind="notice", title="t", body="b")
    assert ids.inbox.list(teller, a) == []  # tellers may read (customers:read)


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("kind", {"kind": "Bad Kind"}),
        ("title", {"title": ""}),
        ("body", {"body": "x" * 4001}),
        ("link", {"link": "javascript:alert(1)"}),
        ("link", {"link": "//evil.example/app"}),
        ("link", {"link": "https://evil.example/"}),
        ("ref", {"ref": "has space"}),
    ],
)
def test_bad_delivery_names_the_field(ids: IdentityServices, field: str, kwargs: dict) -> None:
    a = enrol_customer(ids, ZHANG)
    args = {"kind": "notice", "title": "t", "body": "b"} | kwargs
    with pytest.raises(ValidationError) as err:
        ids.inbox.deliver(SYSTEM, a, **args)
    assert err.value.field == field
    assert ids.inbox.list(SYSTEM, a) == []


def test_bulk_delivery_once_per_ref_and_all_or_nothing(ids: IdentityServices) -> None:
    a = enrol_customer(ids, ZHANG)
    b = enrol_customer(ids, LI)
    batch = [
        OutgoingMessage(a, "Breakfast", "Markets", "d1"),
        OutgoingMessage(b, "早餐", "行情", "d2"),
    ]
    ids.inbox.deliver_many(SYSTEM, "marketing", batch)
    ids.inbox.deliver_many(SYSTEM, "marketing", batch)  # a retried batch lands once
    assert [(m.title, m.ref) for m in ids.inbox.list(SYSTEM, a)] == [("Breakfast", "d1")]
    assert [m.body for m in ids.inbox.list(SYSTEM, b)] == ["行情"]
    # One bad message refuses the whole batch, naming the field; nothing is written.
    bad = [OutgoingMessage(a, "ok", "ok", "d3"), OutgoingMessage(b, "", "body", "d4")]
    with pytest.raises(ValidationError) as err:
        ids.inbox.deliver_many(SYSTEM, "marketing", bad)
    assert err.value.field == "title"
    assert len(ids.inbox.list(SYSTEM, a)) == 1
    with pytest.raises(PermissionDenied):
        ids.inbox.deliver_many(Principal.customer(a), "marketing", batch)

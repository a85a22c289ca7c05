"""The customer inbox: delivery (idempotent by ref), own-only reading, marking read."""

from __future__ import annotations

from datetime import timedelta

import pytest
from tests.identity.conftest import LI, ZHANG, enrol_customer

from finbridge.core import ManualClock, NotFound, PermissionDenied, Principal, ValidationError
from finbridge.core.principal import Role
from finbridge.identity import IdentityServices

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
    read = ids.inbox.mark_read(me, first.id)
    assert read.read_at is not None and not read.unread
    assert ids.inbox.unread_count(me, a) == 1
    assert [m.id for m in ids.inbox.list(me, a, unread_only=True)] == [second.id]
    assert ids.inbox.mark_all_read(me, a) == 1
    assert ids.inbox.unread_count(me, a) == 0


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

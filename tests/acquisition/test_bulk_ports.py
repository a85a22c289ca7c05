"""Identity's ports in bulk: one read of the consent register, the inbox a batch at a time."""

from __future__ import annotations

from tests.acquisition.conftest import SYSTEM, new_customer

from finbridge.acquisition import MARKETING, InboxMessage
from finbridge.platform import Platform
from finbridge.platform._acquisition_ports import IdentityConsent, IdentityInbox


class _AlwaysBulk(IdentityConsent):
    BULK = 0


def test_bulk_consent_read_agrees_with_per_customer(platform: Platform) -> None:
    yes, no = new_customer(platform, "yes"), new_customer(platform, "no", consent=False)
    gone = new_customer(platform, "withdrew")
    consent = platform.identity.consents.list(SYSTEM, gone)[0]
    platform.identity.consents.withdraw(SYSTEM, gone, consent.id)
    people = [yes, no, gone, "unknown"]
    assert IdentityConsent(platform).consented(people, MARKETING) == {yes}
    assert _AlwaysBulk(platform).consented(people, MARKETING) == {yes}


def test_inbox_batch_lands_once(platform: Platform) -> None:
    a = new_customer(platform, "a")
    batch = [InboxMessage(a, "Breakfast", "Markets", "d-1"), InboxMessage(a, "Lunch", "x", "d-2")]
    IdentityInbox(platform).deliver_many(batch)
    IdentityInbox(platform).deliver_many(batch[:1])
    titles = [m.title for m in platform.identity.inbox.list(SYSTEM, a)]
    assert sorted(titles) == ["Breakfast", "Lunch"]

"""Profile fields: spending RFM from the lake's Ibis spend pipeline (point in time), channel
preference, and the other engines' answers on the current profile."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.acquisition.conftest import SYSTEM, new_customer, read_news

from finbridge.lake import Event
from finbridge.platform import Platform

T0 = datetime(2020, 11, 20, 4, 0, tzinfo=UTC)


def _purchase(customer: str, tx: str, amount: str, at: datetime, kind: str = "purchase") -> Event:
    payload = {"transaction_id": tx, "customer_id": customer, "terminal_id": "T-1",
               "currency": "CNY", "amount": amount, "kind": kind}  # fmt: skip
    return Event("card.transaction", at, payload, "partner", customer)


def test_spending_rfm_as_of(sqlite_platform: Platform) -> None:
    p = sqlite_platform
    who = new_customer(p, "spender", deposit="250.00")
    events = [
        _purchase(who, "t1", "10.25", T0),
        _purchase(who, "t2", "5.50", T0 + timedelta(days=2)),
        _purchase(who, "t3", "7.00", T0 + timedelta(days=2, hours=1), kind="refund"),  # not spend
        _purchase(who, "t4", "100.00", T0 + timedelta(days=5)),
    ]
    p.clock.set(T0 + timedelta(days=6))  # type: ignore[attr-defined]
    p.events.lake.append(events, batch="spend")
    read_news(p, who, T0 + timedelta(days=6))

    early = p.acquisition.profile(SYSTEM, who, as_of=T0 + timedelta(days=3))
    assert early.fields["spending"] == {
        "CNY": {"recency_days": 1.0, "frequency": 2, "monetary": "15.7500"}
    }
    before = p.acquisition.profile(SYSTEM, who, as_of=T0)  # strictly before: nothing yet
    assert before.fields["spending"] == {}
    p.acquisition.refresh_profiles(SYSTEM)
    stored = p.acquisition.profile(SYSTEM, who)
    assert stored.stored and stored.fields["spending"]["CNY"]["frequency"] == 3
    assert stored.fields["spending"]["CNY"]["monetary"] == "115.7500"
    # The row's RFM is an audience field too (as of the refresh: the last spend 1 day before).
    size = p.acquisition.audience_size
    assert size(SYSTEM, "spend_frequency == 3 and spend_recency_days < 1.5")["matching"] == 1
    assert size(SYSTEM, "spend_frequency > 3 or spend_recency_days < 0.5")["matching"] == 0
    # The rest of the profile: channel from decayed engagement; the other engines' answers
    # (no advisory profile: R1; no credit score; the deposit), as of each profile's instant.
    assert stored.fields["channel_preference"] == "news"
    assert stored.fields["investor_level"] == 1 and stored.fields["credit_approved"] is False
    assert stored.fields["balance"] == {"currency": "CNY", "total": "250.00", "accounts": 1}
    assert early.fields["channel_preference"] == "none"
    assert early.fields["balance"] is None  # the deposit was made after that instant
    assert early.fields["investor_level"] == 1 and early.fields["credit_approved"] is False

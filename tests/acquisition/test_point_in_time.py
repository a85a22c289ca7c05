"""A profile "as of" an instant sees only what happened before it, the other engines' fields
included: a news read, a card spend and a deposit planted after the instant must not show."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from tests.acquisition.conftest import SYSTEM, new_customer, read_news

from finbridge.core import ManualClock
from finbridge.core.money import Money
from finbridge.lake import Event
from finbridge.platform import Platform
from finbridge.platform._acquisition_ports import CreditScores

T1 = datetime(2020, 11, 20, 4, 0, tzinfo=UTC)
AS_OF = T1 + timedelta(days=3)
LATER = AS_OF + timedelta(hours=2)


def _spend(customer: str, tx: str, amount: str, at: datetime) -> Event:
    payload = {"transaction_id": tx, "customer_id": customer, "terminal_id": "T-1",
               "currency": "CNY", "amount": amount, "kind": "purchase"}  # fmt: skip
    return Event("card.transaction", at, payload, "partner", customer)


def test_planted_later_events_do_not_show_as_of(sqlite_platform: Platform) -> None:
    p = sqlite_platform
    clock = p.clock
    assert isinstance(clock, ManualClock)
    clock.set(T1)
    who = new_customer(p, "pit", deposit="100.00")  # at T1
    account = p.banking.list_accounts(SYSTEM, customer_id=who).items[0]
    read_news(p, who, T1 + timedelta(hours=1), "央行降准 利率下行")
    # Planted after AS_OF: a news read on another topic, a large spend, a second deposit.
    read_news(p, who, LATER, "基金 基金 新发基金火爆")
    clock.set(LATER + timedelta(minutes=5))
    p.banking.deposit(SYSTEM, account.id, Money.of("900.00", "CNY"), idempotency_key="pit-late")
    p.events.lake.append(
        [_spend(who, "s1", "12.00", T1 + timedelta(days=1)), _spend(who, "s2", "500.00", LATER)],
        batch="pit-spend",
    )
    clock.set(LATER + timedelta(days=1))

    then = p.acquisition.profile(SYSTEM, who, as_of=AS_OF)
    now = p.acquisition.profile(SYSTEM, who, as_of=clock.now())
    assert then.fields["news_reads"] > 0 and now.fields["news_reads"] > then.fields["news_reads"]
    assert "funds" not in then.topics and "funds" in now.topics
    assert then.fields["spending"]["CNY"]["frequency"] == 1
    assert then.fields["spending"]["CNY"]["monetary"] == "12.0000"
    assert now.fields["spending"]["CNY"]["monetary"] == "512.0000"
    # Balances through the banking port, as of the instant: the later deposit is not there.
    assert then.fields["balance"] == {"currency": "CNY", "total": "100.00", "accounts": 1}
    assert now.fields["balance"]["total"] == "1000.00"
    early = p.acquisition.profile(SYSTEM, who, as_of=T1 - timedelta(seconds=1))
    assert early.fields["balance"] is None and early.fields["spending"] == {}
    # The current (stored) profile after a refresh has everything.
    p.acquisition.refresh_profiles(SYSTEM)
    stored = p.acquisition.profile(SYSTEM, who)
    assert stored.fields["spending"]["CNY"]["monetary"] == "512.0000"
    assert stored.fields["spending_as_of"] == clock.now().isoformat()
    assert stored.fields["balance"]["total"] == "1000.00"


def test_credit_decision_as_of_uses_the_newest_score_before_the_instant() -> None:
    """The credit port on planted score records (credit's face stood in: scoring needs a
    trained scorecard, which credit's own tests cover): a decline made later does not reach
    back, an approval older than 90 days has lapsed."""
    scores = [
        {"created_at": (T1 - timedelta(days=10)).isoformat(), "band": "B"},
        {"created_at": LATER.isoformat(), "band": "E"},
    ]
    clock = ManualClock(LATER + timedelta(days=1))
    stand_in: Any = SimpleNamespace(
        credit=SimpleNamespace(scores_for=lambda actor, customer_id: scores), clock=clock
    )
    port = CreditScores(stand_in)
    assert port.approved("c", as_of=AS_OF) is True  # the B score was the newest then
    assert port.approved("c") is False  # today the E score is
    assert port.approved("c", as_of=T1 - timedelta(days=11)) is False  # no score yet
    assert port.approved("c", as_of=T1 + timedelta(days=81)) is False  # B lapsed (90 days)

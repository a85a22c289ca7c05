"""Profiles: point in time, incremental equals full, consent gates every use."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from tests.acquisition.conftest import SYSTEM, new_customer, read_news

from finbridge.acquisition import MarketingConsentRequired
from finbridge.core import Principal
from finbridge.core.errors import NotFound
from finbridge.platform import Platform

T0 = datetime(2020, 11, 20, 0, 0, tzinfo=UTC)


def _open_app(platform: Platform, customer_id: str, at: datetime) -> None:
    from finbridge.lake import Event

    payload = {"app_version": "1.0", "platform": "ios"}
    platform.events.lake.append(
        [Event("app.opened", at, payload, "app", customer_id)],
        batch=f"o{at:%H%M%S%f}{customer_id[:8]}",
    )


def test_incremental_refresh_equals_a_full_recompute(sqlite_platform: Platform) -> None:
    p = sqlite_platform
    a = new_customer(p, "a")
    for k in range(6):
        read_news(p, a, T0 + timedelta(days=k, hours=k), title="央行降息 债市走强")
        _open_app(p, a, T0 + timedelta(days=k, hours=12))
    clock = p.clock
    clock.set(T0 + timedelta(days=3))  # type: ignore[attr-defined]
    p.acquisition.refresh_profiles(SYSTEM)  # sees days 0-2
    clock.set(T0 + timedelta(days=7))  # type: ignore[attr-defined]
    p.acquisition.refresh_profiles(SYSTEM)  # adds days 3-5, decays the rest
    incremental = p.acquisition.profile(SYSTEM, a)
    full = p.acquisition.profile(SYSTEM, a, as_of=T0 + timedelta(days=7))
    assert incremental.stored and not full.stored
    assert np.allclose(incremental.engagement_by_hour, full.engagement_by_hour, atol=1e-3)
    assert incremental.fields["news_reads"] == pytest.approx(full.fields["news_reads"], abs=1e-3)
    assert incremental.fields["top_topic"] == "rates"


def test_a_profile_as_of_sees_only_earlier_events(sqlite_platform: Platform) -> None:
    p = sqlite_platform
    a = new_customer(p, "a")
    read_news(p, a, T0)
    read_news(p, a, T0 + timedelta(days=2))
    before = p.acquisition.profile(SYSTEM, a, as_of=T0 + timedelta(days=1))
    after = p.acquisition.profile(SYSTEM, a, as_of=T0 + timedelta(days=3))
    at_the_event = p.acquisition.profile(SYSTEM, a, as_of=T0)
    assert at_the_event.fields["news_reads"] == 0  # strictly before as_of
    assert 0 < before.fields["news_reads"] < after.fields["news_reads"]


def test_consent_gates_profiles_and_withdrawal_removes_them(sqlite_platform: Platform) -> None:
    p = sqlite_platform
    yes, no = new_customer(p, "yes"), new_customer(p, "no", consent=False)
    for who in (yes, no):
        read_news(p, who, T0)
    p.clock.set(T0 + timedelta(days=1))  # type: ignore[attr-defined]
    assert p.acquisition.refresh_profiles(SYSTEM) == 1
    with pytest.raises(MarketingConsentRequired):
        p.acquisition.profile(SYSTEM, no)
    with pytest.raises(MarketingConsentRequired):
        p.acquisition.profile(SYSTEM, no, as_of=T0 + timedelta(days=1))
    consent = p.identity.consents.list(SYSTEM, yes)[0]
    p.identity.consents.withdraw(SYSTEM, yes, consent.id)
    with pytest.raises(MarketingConsentRequired):  # at once, before any refresh
        p.acquisition.profile(SYSTEM, yes)
    assert p.acquisition.refresh_profiles(SYSTEM) == 0  # and the stored profile is gone
    p.identity.consents.grant(SYSTEM, yes, "marketing", ["behaviour"])
    with pytest.raises(NotFound):
        p.acquisition.profile(SYSTEM, yes)


def test_customers_see_only_their_own_profile(sqlite_platform: Platform) -> None:
    p = sqlite_platform
    a, b = new_customer(p, "a"), new_customer(p, "b")
    read_news(p, a, T0)
    p.clock.set(T0 + timedelta(days=1))  # type: ignore[attr-defined]
    p.acquisition.refresh_profiles(SYSTEM)
    assert p.acquisition.profile(Principal.customer(a), a).customer_id == a
    with pytest.raises(NotFound):
        p.acquisition.profile(Principal.customer(b), a)
    with pytest.raises(Exception, match="acquisition:write"):
        p.acquisition.refresh_profiles(Principal.customer(a))

"""Per-customer time zones: a reader in London and one in Shanghai, each reading the news at
07:40 their time, get the breakfast before 07:40 their time; quiet hours are theirs too."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from tests.acquisition.conftest import SYSTEM, new_customer, read_news

from finbridge.acquisition import FINANCE_BREAKFAST
from finbridge.core import NotFound, Principal, ValidationError
from finbridge.platform import Platform

SH, LONDON = ZoneInfo("Asia/Shanghai"), ZoneInfo("Europe/London")
DAY3 = date(2020, 12, 3)


def at(day: int, hh: int, mm: int, tz: ZoneInfo) -> datetime:
    return datetime(2020, 12, day, hh, mm, tzinfo=tz).astimezone(UTC)


def test_send_time_and_quiet_hours_in_each_customers_zone(platform: Platform) -> None:
    acq, clock = platform.acquisition, platform.clock
    shanghai, london = new_customer(platform, "shanghai"), new_customer(platform, "london")
    for day in (1, 2):
        read_news(platform, shanghai, at(day, 7, 40, SH))
        read_news(platform, london, at(day, 7, 40, LONDON))
    clock.set(at(2, 12, 0, LONDON))  # type: ignore[attr-defined]
    acq.refresh_profiles(SYSTEM)  # both built in the bank's zone (Shanghai) first
    assert acq.profile(SYSTEM, london).timezone == "Asia/Shanghai"
    # The customer sets their zone: the stored profile is rebuilt in it at once.
    assert acq.set_timezone(Principal.customer(london), london, "Europe/London") == "Europe/London"
    rebuilt = acq.profile(SYSTEM, london)
    assert rebuilt.timezone == "Europe/London"
    assert max(range(24), key=lambda h: rebuilt.engagement_by_hour[h]) == 7  # 07:xx London
    assert acq.timezone_of(SYSTEM, shanghai) == "Asia/Shanghai"  # the bank's, unset
    assert acq.profile(SYSTEM, london, as_of=at(2, 12, 0, LONDON)).timezone == "Europe/London"
    acq.refresh_profiles(SYSTEM)  # incremental refresh keeps the zone
    assert acq.profile(SYSTEM, london).timezone == "Europe/London"

    acq.save_creative(SYSTEM, "fb", FINANCE_BREAKFAST)
    camp = acq.create_campaign(SYSTEM, {
        "name": "breakfast", "audience": "news_reads > 1", "creative": "fb",
        "schedule": {"kind": "send_time", "lead_minutes": 10}, "holdout_share": 0.01,
    })  # fmt: skip
    acq.schedule(SYSTEM, camp.id, DAY3)
    rows = {d.customer_id: d for d in acq.deliveries(SYSTEM, camp.id)}
    assert rows.keys() == {shanghai, london}  # held-out rows are timed too
    sh_local = rows[shanghai].scheduled_at.astimezone(SH)
    uk_local = rows[london].scheduled_at.astimezone(LONDON)
    for local in (sh_local, uk_local):
        assert local.date() == DAY3 and (7, 0) <= (local.hour, local.minute) < (7, 40)
    assert (rows[london].scheduled_at - rows[shanghai].scheduled_at).total_seconds() == 8 * 3600

    # 07:35 London is 15:35 in Shanghai: both are due, neither is in its own quiet hours.
    clock.set(at(3, 7, 35, LONDON))  # type: ignore[attr-defined]
    treated = sum(d.arm == "treatment" for d in rows.values())  # 1 % holdout: almost surely 2
    assert acq.deliver_due(SYSTEM).delivered == treated


def test_quiet_hours_are_the_customers_own(platform: Platform) -> None:
    acq, clock = platform.acquisition, platform.clock
    london = new_customer(platform, "london")
    acq.set_timezone(SYSTEM, london, "Europe/London")
    for day in (1, 2):
        read_news(platform, london, at(day, 15, 0, LONDON))  # 23:00 in Shanghai
    clock.set(at(2, 16, 0, LONDON))  # type: ignore[attr-defined]
    acq.refresh_profiles(SYSTEM)
    acq.save_creative(SYSTEM, "fb", FINANCE_BREAKFAST)
    camp = acq.create_campaign(SYSTEM, {
        "name": "afternoon", "audience": "news_reads > 1", "creative": "fb",
        "schedule": {"kind": "send_time", "lead_minutes": 10}, "holdout_share": 0.01,
    })  # fmt: skip
    acq.schedule(SYSTEM, camp.id, DAY3)
    (row,) = acq.deliveries(SYSTEM, camp.id)
    local = row.scheduled_at.astimezone(LONDON)
    # 14:50 London: not moved, although it is 22:50 (quiet) in the bank's zone.
    assert (local.hour, local.minute) == (14, 50)
    clock.set(at(3, 14, 55, LONDON))  # type: ignore[attr-defined]
    assert acq.deliver_due(SYSTEM).delivered == (row.arm == "treatment")


def test_bad_or_foreign_timezone_refused(platform: Platform) -> None:
    acq = platform.acquisition
    a, b = new_customer(platform, "a"), new_customer(platform, "b")
    with pytest.raises(ValidationError) as err:
        acq.set_timezone(Principal.customer(a), a, "Mars/Olympus")
    assert err.value.field == "timezone"
    with pytest.raises(NotFound):
        acq.set_timezone(Principal.customer(b), a, "Europe/London")
    assert acq.timezone_of(SYSTEM, a) == "Asia/Shanghai"

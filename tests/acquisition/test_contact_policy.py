"""Contact policy: frequency caps, quiet hours for per-person times, a permanent holdout, lift."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from tests.acquisition.conftest import SYSTEM, new_customer, read_news

from finbridge.acquisition import FINANCE_BREAKFAST
from finbridge.acquisition.campaigns import Lift, in_holdout, in_quiet, out_of_quiet
from finbridge.platform import Platform

SH = ZoneInfo("Asia/Shanghai")


def _campaign(p: Platform, name: str, **extra: object) -> str:
    body = {
        "name": name, "audience": "news_reads > 0", "creative": "fb", "holdout_share": 0.01,
        "schedule": {"kind": "send_time", "lead_minutes": 10}, **extra,
    }  # fmt: skip
    return p.acquisition.create_campaign(SYSTEM, body).id


def test_caps_and_quiet_hours(sqlite_platform: Platform) -> None:
    p = sqlite_platform
    owls = [new_customer(p, f"night owl {k}") for k in range(8)]
    for owl in owls:
        for day in (1, 2, 3):  # reads at 23:30 Shanghai
            read_news(p, owl, datetime(2020, 12, day, 15, 30, tzinfo=UTC))
    p.clock.set(datetime(2020, 12, 4, 1, 0, tzinfo=UTC))  # type: ignore[attr-defined]
    p.acquisition.refresh_profiles(SYSTEM)
    p.acquisition.save_creative(SYSTEM, "fb", FINANCE_BREAKFAST)
    first, second = _campaign(p, "a"), _campaign(p, "b")
    day = date(2020, 12, 5)
    one = p.acquisition.schedule(SYSTEM, first, day)
    two = p.acquisition.schedule(SYSTEM, second, day)
    sent = [d for d in p.acquisition.deliveries(SYSTEM, first) if d.arm == "treatment"]
    assert len(sent) == one.scheduled > 0
    # The daily cap of 1: whoever got campaign a today is not sent campaign b (held-out
    # people are never contacted, so the cap does not apply to them).
    capped = [d for d in sent if not in_holdout(second, d.customer_id, 0.01)]
    assert two.skipped.get("frequency_cap", 0) == len(capped)
    for d in sent:
        when = d.scheduled_at.astimezone(SH)
        # the habit is 23:30, inside 22:00-07:00: moved to 10 minutes before the quiet hours
        assert (when.hour, when.minute) == (21, 50)


def test_holdout_is_permanent_and_about_its_share() -> None:
    ids = [f"c{k}" for k in range(20_000)]
    held = [c for c in ids if in_holdout("camp", c, 0.1)]
    assert 0.09 < len(held) / len(ids) < 0.11
    assert held == [c for c in ids if in_holdout("camp", c, 0.1)]  # same people every time
    assert held != [c for c in ids if in_holdout("other", c, 0.1)]  # per campaign


def test_quiet_hours_wrap_midnight() -> None:
    q = (time(22), time(7))
    assert in_quiet(time(23, 30), *q) and in_quiet(time(6, 59), *q) and not in_quiet(time(7), *q)
    assert out_of_quiet(time(6, 0), *q, 10) == time(7, 0)
    assert out_of_quiet(time(23, 0), *q, 10) == time(21, 50)
    assert out_of_quiet(time(12, 0), *q, 10) == time(12, 0)


def test_lift_interval() -> None:
    lift = Lift.measure(1000, 120, 1000, 60)
    assert lift.lift == pytest.approx(0.06)
    # Wald: sqrt(.12*.88/1000 + .06*.94/1000) = 0.012728; x 1.95996 = 0.024946
    assert lift.low == pytest.approx(0.06 - 0.024946, abs=1e-5)
    assert lift.high == pytest.approx(0.06 + 0.024946, abs=1e-5)
    assert Lift.measure(10, 1, 0, 0).lift is None

"""The serve loop plans today and tomorrow hourly and sends what is due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.acquisition.conftest import SYSTEM, new_customer, read_news

from finbridge.acquisition import FINANCE_BREAKFAST
from finbridge.cli.acquisition_loop import DeliveryLoop
from finbridge.platform import Platform


def test_loop_plans_then_sends_when_due(sqlite_platform: Platform) -> None:
    p = sqlite_platform
    reader = new_customer(p, "reader")
    for at in (
        datetime(2020, 11, 30, 23, 40, tzinfo=UTC),
        datetime(2020, 12, 1, 23, 40, tzinfo=UTC),
    ):
        # The lake refuses events from its own future (a quality check): read, then move on.
        p.clock.set(at + timedelta(minutes=1))  # type: ignore[attr-defined]
        read_news(p, reader, at)
    p.clock.set(datetime(2020, 12, 2, 12, 0, tzinfo=UTC))  # type: ignore[attr-defined]
    p.acquisition.save_creative(SYSTEM, "fb", FINANCE_BREAKFAST)
    p.acquisition.create_campaign(SYSTEM, {
        "name": "fb", "audience": "news_reads > 1", "creative": "fb", "holdout_share": 0.01,
        "schedule": {"kind": "fixed", "at": "08:00"},
    })  # fmt: skip
    loop = DeliveryLoop(p, interval_seconds=5)
    # 20:00 in Shanghai: plans 12-02 (08:00 has passed: due now, sent late but outside the
    # quiet hours) and 12-03.
    sent = loop.run_once()
    camp = p.acquisition.campaigns(SYSTEM)[0].id
    rows = p.acquisition.deliveries(SYSTEM, camp)
    assert {d.day.isoformat() for d in rows} == {"2020-12-02", "2020-12-03"}
    assert sent == sum(
        1 for d in rows if d.day.isoformat() == "2020-12-02" and d.arm == "treatment"
    )
    # 23:00: nothing new is due; 08:05 on 12-03: the planned one goes out.
    p.clock.set(datetime(2020, 12, 3, 0, 5, tzinfo=UTC))  # type: ignore[attr-defined]
    due = sum(1 for d in rows if d.day.isoformat() == "2020-12-03" and d.arm == "treatment")
    assert loop.run_once() == due


def test_a_late_message_is_never_sent_in_the_quiet_hours(sqlite_platform: Platform) -> None:
    p = sqlite_platform
    reader = new_customer(p, "reader")
    read_news(p, reader, datetime(2020, 12, 1, 23, 40, tzinfo=UTC))
    p.clock.set(datetime(2020, 12, 2, 12, 0, tzinfo=UTC))  # type: ignore[attr-defined]
    p.acquisition.refresh_profiles(SYSTEM)
    p.acquisition.save_creative(SYSTEM, "fb", FINANCE_BREAKFAST)
    camp = p.acquisition.create_campaign(SYSTEM, {
        "name": "late", "audience": "news_reads > 0", "creative": "fb", "holdout_share": 0.01,
        "schedule": {"kind": "fixed", "at": "08:00"},
    })  # fmt: skip
    plan = p.acquisition.schedule(SYSTEM, camp.id, datetime(2020, 12, 2).date())
    p.clock.set(datetime(2020, 12, 2, 15, 30, tzinfo=UTC))  # type: ignore[attr-defined]  # 23:30
    report = p.acquisition.deliver_due(SYSTEM)
    assert report.delivered == 0
    assert report.suppressed.get("quiet_hours", 0) == plan.scheduled

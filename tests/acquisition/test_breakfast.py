"""The finance breakfast, on the clock (issue 17's own example).

Readers of finance news at 07:40 and 07:55 (Shanghai) on two days get, on day three, a digest
scheduled before 07:40 local time and delivered with that morning's headlines and their
portfolio; a customer without marketing consent gets nothing; one who opted out gets nothing;
one who withdraws consent after scheduling gets nothing.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from tests.acquisition.conftest import SYSTEM, new_customer, read_news

from finbridge.acquisition import FINANCE_BREAKFAST
from finbridge.acquisition.news import headlines_for
from finbridge.core import Principal
from finbridge.lake.tables import OutboxRow
from finbridge.platform import Platform
from finbridge.store.engine import unit_of_work

SH = ZoneInfo("Asia/Shanghai")
DAY1, DAY2, DAY3 = date(2020, 12, 1), date(2020, 12, 2), date(2020, 12, 3)


def local(day: date, hh: int, mm: int) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=SH).astimezone(UTC)


def test_finance_breakfast_on_the_clock(platform: Platform) -> None:
    readers = [new_customer(platform, f"reader {i}", deposit=f"{1000 + i}.00") for i in range(12)]
    no_consent = new_customer(platform, "no consent", consent=False, deposit="50.00")
    opted = new_customer(platform, "opted out", deposit="60.00")
    withdraws = new_customer(platform, "withdraws", deposit="70.00")
    everyone = [*readers, no_consent, opted, withdraws]
    for day in (DAY1, DAY2):
        for who in everyone:
            read_news(platform, who, local(day, 7, 40))
            read_news(platform, who, local(day, 7, 55))
    clock = platform.clock
    clock.set(local(DAY2, 20, 0))  # type: ignore[attr-defined]

    acq = platform.acquisition
    assert acq.refresh_profiles(SYSTEM) == len(everyone) - 1  # no profile without consent
    acq.save_creative(SYSTEM, "finance-breakfast", FINANCE_BREAKFAST)
    camp = acq.create_campaign(
        SYSTEM,
        {
            "name": "Finance breakfast",
            "audience": "news_reads > 1",
            "creative": "finance-breakfast",
            "schedule": {"kind": "send_time", "lead_minutes": 10},
            "holdout_share": 0.05,
        },
    )
    acq.opt_out(Principal.customer(opted), opted, camp.id)

    report = acq.schedule(SYSTEM, camp.id, DAY3)
    assert report.skipped.get("opted_out") == 1
    rows = {d.customer_id: d for d in acq.deliveries(SYSTEM, camp.id)}
    assert no_consent not in rows and opted not in rows
    treated = [c for c in readers if rows[c].arm == "treatment"]
    assert treated, "with a 5 % holdout some of 12 readers are treated"
    for who in [*treated, withdraws]:
        at = rows[who].scheduled_at.astimezone(SH)
        assert at.date() == DAY3
        assert (at.hour, at.minute) < (7, 40), at  # before the habit
        assert (at.hour, at.minute) >= (7, 0), at  # and not in the quiet hours

    # Consent withdrawn after scheduling: honoured at send time.
    consent = platform.identity.consents.list(SYSTEM, withdraws)[0]
    platform.identity.consents.withdraw(SYSTEM, withdraws, consent.id)

    clock.set(local(DAY3, 7, 0))  # type: ignore[attr-defined]
    assert acq.deliver_due(SYSTEM).delivered == 0  # not due yet
    clock.set(local(DAY3, 7, 35))  # type: ignore[attr-defined]
    sent = acq.deliver_due(SYSTEM)
    assert sent.delivered == len(treated)
    assert sent.suppressed.get("no_consent") == (1 if rows[withdraws].arm == "treatment" else None)

    news_day, headlines = headlines_for(DAY3)
    assert news_day == DAY3 and len(headlines) == 3
    first = treated[0]
    inbox = acq.inbox(Principal.customer(first), first)
    assert len(inbox) == 1
    body = inbox[0].body or ""
    assert inbox[0].title == "财经早餐 2020-12-03"
    assert all(h in body for h in headlines)  # that morning's headlines
    amount = 1000 + readers.index(first)
    assert f"{amount:,}.00 CNY" in body  # the portfolio summary
    # Delivered to identity's customer inbox as well, and as lake events.
    messages = platform.identity.inbox.list(Principal.customer(first), first)
    assert [m.ref for m in messages] == [inbox[0].id]
    assert messages[0].link == f"/app/acquisition?delivery={inbox[0].id}"  # the deep link
    push = inbox[0].push()
    assert push is not None and push.title == inbox[0].title and push.body.endswith("…")
    with unit_of_work(platform.engine, write=False) as session:
        types = session.scalars(select(OutboxRow.event_type)).all()
    assert types.count("acquisition.delivered") == len(treated)
    for who in (no_consent, opted, withdraws):
        assert acq.inbox(SYSTEM, who) == []
        assert platform.identity.inbox.list(SYSTEM, who) == []

    # Run again the same morning: nothing is sent twice.
    clock.advance(timedelta(minutes=5))  # type: ignore[attr-defined]
    assert acq.deliver_due(SYSTEM).delivered == 0
    assert acq.schedule(SYSTEM, camp.id, DAY3).scheduled == 0

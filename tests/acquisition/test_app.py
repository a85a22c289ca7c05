"""The customer app's "For you" page and home card (the app's own sign-in, real forms)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient
from tests.acquisition.conftest import SYSTEM, read_news
from tests.api.conftest import issue_key
from tests.app.conftest import ZHANG, csrf_of, make_customer, sign_in
from tests.web.conftest import log_in

from finbridge.acquisition import FINANCE_BREAKFAST
from finbridge.acquisition.campaigns import in_holdout
from finbridge.core import ManualClock, Role
from finbridge.platform import Platform
from finbridge.site import create_app


def test_for_you_page_card_and_opt_out(sqlite_platform: Platform) -> None:
    p = sqlite_platform
    clock = p.clock
    assert isinstance(clock, ManualClock)
    zhang = make_customer(p, clock, ZHANG)
    client = TestClient(create_app(platform=p))
    sign_in(client, clock, zhang)
    page = client.get("/app/acquisition")
    assert (page.status_code == 200 and "Privacy" in page.text) or "隐私" in page.text  # no consent

    p.identity.consents.grant(SYSTEM, zhang.id, "marketing", ["behaviour"])
    for at in (
        datetime(2020, 11, 30, 23, 40, tzinfo=UTC),
        datetime(2020, 12, 1, 23, 40, tzinfo=UTC),
    ):
        read_news(p, zhang.id, at)
    clock.set(datetime(2020, 12, 2, 12, 0, tzinfo=UTC))
    acq = p.acquisition
    acq.refresh_profiles(SYSTEM)
    acq.save_creative(SYSTEM, "fb", FINANCE_BREAKFAST)
    camp = acq.create_campaign(SYSTEM, {
        "name": "fb", "audience": "news_reads > 1", "creative": "fb", "holdout_share": 0.01,
        "schedule": {"kind": "fixed", "at": "08:00"},
    })  # fmt: skip
    plan = acq.schedule(SYSTEM, camp.id, datetime(2020, 12, 3).date())
    clock.set(datetime(2020, 12, 3, 0, 5, tzinfo=UTC))
    acq.deliver_due(SYSTEM)
    sign_in(client, clock, zhang)  # the clock moved a day: a fresh session
    page = client.get("/app/acquisition")
    assert page.status_code == 200
    assert "R1" in page.text  # offers within the customer's level
    if plan.scheduled:
        assert "2020-12-03" in page.text
        assert "2020-12-03" in client.get("/app").text  # the home card
    r = client.post(
        "/app/acquisition/opt-out", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False
    )
    assert r.status_code == 303
    assert acq.schedule(SYSTEM, camp.id, datetime(2020, 12, 4).date()).skipped.get("opted_out") == 1


def test_data_export_holds_the_marketing_profile_only_with_consent(
    sqlite_platform: Platform,
) -> None:
    from tests.acquisition.conftest import new_customer

    from finbridge.app.pages.acquisition import export_files
    from finbridge.core import Principal

    p = sqlite_platform
    yes, no = new_customer(p, "yes"), new_customer(p, "no", consent=False)
    read_news(p, yes, datetime(2020, 11, 30, 23, 40, tzinfo=UTC))
    p.clock.set(datetime(2020, 12, 2, 12, 0, tzinfo=UTC))  # type: ignore[attr-defined]
    p.acquisition.refresh_profiles(SYSTEM)
    mine = export_files(p, Principal.customer(yes))
    assert mine["marketing_profile.json"].customer_id == yes
    assert export_files(p, Principal.customer(no))["marketing_profile.json"] is None


def test_customer_sets_their_time_zone_and_quiet_hours_follow_it(
    sqlite_platform: Platform,
) -> None:
    p = sqlite_platform
    clock = p.clock
    assert isinstance(clock, ManualClock)
    zhang = make_customer(p, clock, ZHANG)
    p.identity.consents.grant(SYSTEM, zhang.id, "marketing", ["behaviour"])
    read_news(p, zhang.id, datetime(2020, 12, 1, 0, 40, tzinfo=UTC))
    client = TestClient(create_app(platform=p))
    sign_in(client, clock, zhang)
    page = client.get("/app/acquisition")
    assert '<option value="Asia/Shanghai" selected>' in page.text  # the bank's, unset
    assert page.text.count('id="acq-timezone"') == 1  # one form, and none in the <title>
    title = page.text.split("<title>", 1)[1].split("</title>", 1)[0]
    assert "<" not in title, title
    refused = client.post("/app/acquisition/timezone", data={"timezone": "Europe/London"})
    assert refused.status_code == 403  # no CSRF token
    bad = client.post(
        "/app/acquisition/timezone",
        data={"timezone": "Mars/Olympus", "csrf_token": csrf_of(page.text)},
    )
    assert bad.status_code == 422 and "timezone" in bad.text
    r = client.post(
        "/app/acquisition/timezone",
        data={"timezone": "Europe/London", "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = client.get("/app/acquisition")
    assert '<option value="Europe/London" selected>' in page.text
    assert p.acquisition.timezone_of(SYSTEM, zhang.id) == "Europe/London"

    # The operator sees it on the profile view.
    p.acquisition.refresh_profiles(SYSTEM)
    console = TestClient(create_app(platform=p))
    log_in(console, issue_key(p, [Role.MARKETER]))
    view = console.get("/console/acquisition/profile", params={"customer_id": zhang.id})
    assert '<strong id="acq-timezone">Europe/London</strong>' in view.text

    # Quiet hours are London's: a message due at 08:00 London and only sent at 23:30 London
    # (07:30 in Shanghai, not night there) is suppressed, never sent at night.
    acq = p.acquisition
    acq.save_creative(SYSTEM, "fb", FINANCE_BREAKFAST)
    spec = {
        "name": "fb", "audience": "news_reads > 0", "creative": "fb", "holdout_share": 0.01,
        "schedule": {"kind": "fixed", "at": "08:00"},
    }  # fmt: skip
    camp = acq.create_campaign(SYSTEM, spec)
    # The holdout is hashed on the campaign's random id: one run in a hundred holds the only
    # customer out, and then there is no message to suppress. Another campaign, then.
    while in_holdout(camp.id, zhang.id, camp.holdout_share):
        camp = acq.create_campaign(SYSTEM, {**spec, "name": f"fb {camp.id}"})
    assert acq.schedule(SYSTEM, camp.id, datetime(2020, 12, 3).date()).scheduled == 1
    (row,) = acq.deliveries(SYSTEM, camp.id)
    assert row.scheduled_at == datetime(2020, 12, 3, 8, 0, tzinfo=UTC)  # 08:00 London (GMT)
    report = acq.deliver_due(SYSTEM, now=datetime(2020, 12, 3, 23, 30, tzinfo=UTC))
    assert report.delivered == 0 and report.suppressed == {"quiet_hours": 1}

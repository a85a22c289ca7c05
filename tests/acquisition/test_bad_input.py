"""Bad input is refused at save time, naming the field, with nothing written."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from tests.acquisition.conftest import SYSTEM, new_customer

from finbridge.acquisition import FINANCE_BREAKFAST
from finbridge.acquisition.tables import CampaignRow, CreativeRow
from finbridge.core.errors import NotFound, ValidationError
from finbridge.platform import Platform
from finbridge.store.engine import unit_of_work

GOOD: dict[str, Any] = {
    "name": "c1",
    "audience": "news_reads > 1",
    "creative": "fb",
    "schedule": {"kind": "fixed", "at": "08:00"},
    "holdout_share": 0.1,
}


def _count(platform: Platform, table: type) -> int:
    with unit_of_work(platform.engine, write=False) as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


@pytest.mark.parametrize(
    ("change", "field", "match"),
    [
        ({"audience": "news_reads >"}, "audience", "does not parse"),
        ({"audience": "salary > 3"}, "audience", "unknown field 'salary'"),
        ({"audience": "top_topic > 3"}, "audience", "does not parse"),
        ({"holdout_share": 0}, "holdout_share", "holdout"),
        ({"holdout_share": None}, "holdout_share", "holdout"),
        ({"holdout_share": 0.9}, "holdout_share", "between"),
        ({"schedule": {"kind": "fixed", "at": "23:30"}}, "schedule.at", "quiet hours"),
        ({"schedule": {"kind": "fixed", "at": "06:59"}}, "schedule.at", "quiet hours"),
        ({"schedule": {"kind": "fixed", "at": "25:00"}}, "schedule.at", "HH:MM"),
        ({"schedule": {"kind": "sometime"}}, "schedule.kind", "fixed or send_time"),
        ({"cap_per_day": 0}, "cap_per_day", "1..10"),
        ({"offer_code": "lottery"}, "offer_code", "no product"),
        ({"creative": "nope"}, "creative", "no creative"),
    ],
)
def test_campaign_refused_at_save(
    sqlite_platform: Platform, change: dict[str, Any], field: str, match: str
) -> None:
    acq = sqlite_platform.acquisition
    acq.save_creative(SYSTEM, "fb", FINANCE_BREAKFAST)
    with pytest.raises((ValidationError, NotFound), match=match) as info:
        acq.create_campaign(SYSTEM, {**GOOD, **change})
    assert info.value.field == field
    assert _count(sqlite_platform, CampaignRow) == 0


def test_creative_with_an_unknown_or_missing_field_is_refused(sqlite_platform: Platform) -> None:
    acq = sqlite_platform.acquisition
    bad = {"en": {"title": "Hi ${first_name}", "body": "x"}}
    with pytest.raises(ValidationError, match="first_name") as info:
        acq.save_creative(SYSTEM, "c", bad)
    assert info.value.field == "templates.en.title"
    with pytest.raises(ValidationError, match=r"\$\$") as info:
        acq.save_creative(SYSTEM, "c", {"en": {"title": "Pay $5", "body": "x"}})
    with pytest.raises(ValidationError, match="title and a body"):
        acq.save_creative(SYSTEM, "c", {"en": {"title": "only a title"}})
    with pytest.raises(ValidationError, match="locale"):
        acq.save_creative(SYSTEM, "c", {"fr": {"title": "t", "body": "b"}})
    assert _count(sqlite_platform, CreativeRow) == 0
    # A creative that shows the offer needs a campaign with an offer.
    acq.save_creative(SYSTEM, "offer", {"en": {"title": "${offer_name}", "body": "b"}})
    with pytest.raises(ValidationError, match="no offer") as info:
        acq.create_campaign(SYSTEM, {**GOOD, "creative": "offer"})
    assert info.value.field == "offer_code"


def test_versions_and_preview(sqlite_platform: Platform) -> None:
    acq = sqlite_platform.acquisition
    assert acq.save_creative(SYSTEM, "fb", FINANCE_BREAKFAST).version == 1
    assert acq.save_creative(SYSTEM, "fb", FINANCE_BREAKFAST).version == 2
    title, body = acq.preview(SYSTEM, "fb", locale="en")
    assert title.startswith("Finance breakfast ") and "Headlines (" in body


def test_offer_above_suitability_is_refused(sqlite_platform: Platform) -> None:
    acq = sqlite_platform.acquisition
    a = new_customer(sqlite_platform, "a")
    assert acq.check_offer(SYSTEM, a, "deposit_3m").risk_level == 1
    # No advisory risk profile: nothing above R1.
    with pytest.raises(ValidationError, match="above the customer's suitability") as info:
        acq.check_offer(SYSTEM, a, "equity_fund")
    assert info.value.field == "offer_code"
    with pytest.raises(ValidationError, match="credit decision"):
        acq.check_offer(SYSTEM, a, "credit_line")
    codes = [o.code for o in acq.offers(SYSTEM, a)]
    assert codes and all(c in {"deposit_3m", "money_market"} for c in codes)

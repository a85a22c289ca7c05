"""Demo seeding for acquisition, through the engine's face: a finance-breakfast campaign with
deliveries, so its console pages are never empty.

The demo's customers have no app or news activity of their own, so this simulates it (said in
every event's ``source``: ``demo-sim``): for 300 personal customers, 14 days of ``news.read``
events with real headlines from the shipped news slice, at a habit hour drawn per customer
(morning readers at 07:xx, lunch or evening readers otherwise), two in three with marketing
consent recorded. Then: profiles, the bilingual finance-breakfast creative, a campaign at each
person's send time with a 10 % holdout, today planned, what is due delivered, and conversions
recorded for a few people in both arms so the results page shows a lift with its interval.
Idempotent: a demo that finds the campaign seeds nothing.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from finbridge.acquisition import FINANCE_BREAKFAST, NEWS_FILE
from finbridge.banking import Customer
from finbridge.core.principal import Principal
from finbridge.lake import Event
from finbridge.platform import Platform

_ACTOR = Principal.system("demo")
CAMPAIGN = "Finance breakfast"
PEOPLE = 300
DAYS = 14


def seed_acquisition(platform: Platform, say: Callable[[str], None] = lambda _: None) -> str | None:
    """Seed once; a summary line, or None when the campaign already exists."""
    seed_models(platform, say)
    acq = platform.acquisition
    if any(c.name == CAMPAIGN for c in acq.campaigns(_ACTOR)):
        return None
    people: list[Customer] = []
    cursor: str | None = None
    while len(people) < PEOPLE:
        page = platform.banking.list_customers(_ACTOR, limit=200, cursor=cursor)
        people += [c for c in page.items if c.kind == "personal"]
        cursor = page.next_cursor
        if cursor is None:
            break
    people = people[:PEOPLE]
    if not people:
        return None
    say(f"seeding acquisition: simulated news reading for {len(people)} customers, a campaign")
    import polars as pl

    titles = pl.read_parquet(NEWS_FILE)["headline"].to_list()
    rng = random.Random(17)
    tz = ZoneInfo(platform.settings.business_timezone)
    now = platform.clock.now()
    today = now.astimezone(tz).date()
    events = []
    for k, person in enumerate(people):
        if k % 3 != 2:
            platform.identity.consents.grant(_ACTOR, person.id, "marketing", ["behaviour"])
        hour = rng.choice([7, 7, 7, 8, 12, 20, 21])
        for day in range(1, DAYS + 1):
            if rng.random() < 0.4:
                continue
            local = datetime.combine(today - timedelta(days=day), time(hour, rng.randrange(60)), tz)
            payload = {
                "article_id": f"demo-{k}-{day}",
                "title": " ".join(rng.choice(titles).split()),
            }
            events.append(Event("news.read", local.astimezone(UTC), payload, "demo-sim", person.id))
    # Through the outbox and the relay, as an engine's events travel: the lake's quality
    # checks, the relay's batches and (with a bus) the stream see the demo's reading too.
    platform.events.record(_ACTOR, events)
    platform.events.relay(_ACTOR)  # the profiles below read the lake
    profiles = acq.refresh_profiles(_ACTOR)
    acq.save_creative(_ACTOR, "finance-breakfast", FINANCE_BREAKFAST)
    campaign = acq.create_campaign(
        _ACTOR,
        {
            "name": CAMPAIGN, "audience": "news_reads > 1", "creative": "finance-breakfast",
            "schedule": {"kind": "send_time", "lead_minutes": 10}, "holdout_share": 0.1,
        },
    )  # fmt: skip
    plan = acq.schedule(_ACTOR, campaign.id, today)
    sent = acq.deliver_due(_ACTOR)
    converted = 0
    for d in acq.deliveries(_ACTOR, campaign.id, limit=1000):
        if d.status not in ("delivered", "holdout"):
            continue  # not sent yet (later today): nothing to respond to
        # Simulated responses: 12 % of the treated, 6 % of the held out.
        if rng.random() < (0.12 if d.arm == "treatment" else 0.06):
            acq.record_conversion(_ACTOR, campaign.id, d.customer_id)
            converted += 1
    return (
        f"{profiles} profiles, campaign '{CAMPAIGN}': {plan.scheduled} planned, "
        f"{plan.holdout} held out, {sent.delivered} delivered so far, {converted} conversions"
    )


def seed_models(platform: Platform, say: Callable[[str], None] = lambda _: None) -> str:
    """The response and uplift models next-best-offer serves: the stored live version, or
    one trained now on the shipped real slices (bank-full 6,000 rows, Hillstrom 12,000; about
    5 s of CPU). ``finbridge acquisition models train --data-dir`` trains on the full sets."""
    acq = platform.acquisition
    versions = acq.model_versions(_ACTOR)
    if versions:
        return versions[0].version
    import finbridge

    shipped = Path(finbridge.__file__).parent / "datasets" / "marketing"
    say("training the acquisition response and uplift models on the shipped slices")
    version = acq.train_models(
        _ACTOR,
        shipped / "uci_bank_full_sample_6k.parquet",
        shipped / "hillstrom_email_sample_12k.parquet",
    )
    auc = version.response_auc["lightgbm_calibrated"]
    return f"{version.version} (response AUC {auc:.3f}, uplift {version.uplift_chosen})"

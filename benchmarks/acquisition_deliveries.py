"""A campaign of 100,000 deliveries scheduled and delivered (issue 17: <= 60 s).

A fresh SQLite database (the default backend; ``--database-url`` for PostgreSQL) with 100,000
consenting customers' profiles (each a morning or evening habit, inserted in bulk: building
them from a lake of 100,000 people is the send-time benchmark's job), one creative (headlines +
offer) and one campaign at each person's send time with a 10 % holdout. Timed: ``schedule``
(audience rule, caps, send time, holdout, one bulk insert) and ``deliver_due`` (consent and
opt-outs again, render, one bulk update, 90,000 ``acquisition.delivered`` outbox events).

The consent port here is an in-memory set and the inbox is acquisition's own table: identity's
adapters answer one customer per call, and their cost per 1,000 customers is measured
separately at the end (``--identity-sample``).

Run: ``.venv/bin/python benchmarks/acquisition_deliveries.py [--customers 100000]``
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Collection
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
from sqlalchemy import insert

from finbridge.acquisition import AcquisitionService
from finbridge.acquisition.population import pack_minutes, pack_week
from finbridge.acquisition.tables import ProfileRow
from finbridge.core import ManualClock, Principal, Settings
from finbridge.lake import EventLake
from finbridge.platform import Platform
from finbridge.platform._schema import upgrade_database
from finbridge.store.engine import make_engine, unit_of_work

SYSTEM = Principal.system("bench")
DAY = date(2020, 12, 3)


class Everyone:
    def __init__(self, ids: set[str]) -> None:
        self.ids = ids

    def consented(self, customer_ids: Collection[str], purpose: str) -> set[str]:
        return {c for c in customer_ids if c in self.ids}


def profiles(n: int, now: datetime) -> list[dict[str, object]]:
    rng = np.random.default_rng(17)
    rows = []
    for k in range(n):
        week = np.zeros(168)
        hour = 7 if k % 3 else 20
        for day in range(7):
            week[day * 24 + hour] = float(rng.random() + 0.5)
        minute = [-1] * 24
        minute[hour] = int(rng.integers(0, 60))
        rows.append({
            "customer_id": f"cust-{k:06d}", "as_of": now, "timezone": "Asia/Shanghai",
            "locale": "zh-CN" if k % 4 else "en", "engagement": pack_week(week),
            "first_minute": pack_minutes(minute), "counts": {"news.read": 2.0},
            "topics": {"funds": 1.0},
            "updated_at": now,
        })  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--database-url")
    parser.add_argument("--identity-sample", type=int, default=1_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        engine = make_engine(url)
        upgrade_database(engine)
        clock = ManualClock(datetime(2020, 12, 2, 12, 0, tzinfo=UTC))
        rows = profiles(args.customers, clock.now())
        with unit_of_work(engine) as session:
            session.execute(insert(ProfileRow), rows)
        ids = {str(r["customer_id"]) for r in rows}
        acq = AcquisitionService(
            engine, clock, EventLake(Path(tmp) / "lake"), consent=Everyone(ids)
        )
        news = "${headline_1}\n${headline_2}\n"
        acq.save_creative(SYSTEM, "digest", {
            "zh-CN": {"title": "财经早餐 ${date}", "body": news + "推荐：${offer_name}"},
            "en": {"title": "Breakfast ${date}", "body": news + "For you: ${offer_name}"},
        })  # fmt: skip
        camp = acq.create_campaign(SYSTEM, {
            "name": "bench", "audience": "news_reads > 1", "creative": "digest",
            "offer_code": "money_market", "schedule": {"kind": "send_time"}, "holdout_share": 0.1,
        })  # fmt: skip
        t0 = time.perf_counter()
        plan = acq.schedule(SYSTEM, camp.id, DAY)
        t_schedule = time.perf_counter() - t0
        clock.set(datetime(2020, 12, 3, 15, 0, tzinfo=UTC))
        t1 = time.perf_counter()
        sent = acq.deliver_due(SYSTEM)
        t_deliver = time.perf_counter() - t1
        print(f"backend {engine.dialect.name}, {args.customers:,} customers")
        planned = f"{plan.scheduled:,} scheduled + {plan.holdout:,} held out"
        print(f"schedule: {planned} in {t_schedule:.1f} s")
        print(f"deliver:  {sent.delivered:,} delivered in {t_deliver:.1f} s")
        print(f"total {t_schedule + t_deliver:.1f} s for {plan.scheduled + plan.holdout:,} rows")
        engine.dispose()

        # identity's adapters, per customer, on a real platform
        settings = Settings(env="test", data_dir=Path(tmp) / "p")
        platform = Platform(settings, make_engine(f"sqlite:///{Path(tmp) / 'p.db'}"), clock)
        upgrade_database(platform)
        from finbridge.platform._acquisition_ports import IdentityConsent, IdentityInbox

        people = [f"p{k}" for k in range(args.identity_sample)]
        for who in people:
            platform.identity.consents.grant(SYSTEM, who, "marketing", ["behaviour"])
        t2 = time.perf_counter()
        IdentityConsent(platform).consented(people, "marketing")
        t_consent = time.perf_counter() - t2
        inbox = IdentityInbox(platform)
        t3 = time.perf_counter()
        for k, who in enumerate(people):
            inbox.deliver(who, title="t", body="b", reference=f"d{k}")
        t_inbox = time.perf_counter() - t3
        scale = 1000 / len(people)
        print(f"identity consent check: {t_consent * scale:.2f} s per 1,000 customers")
        print(f"identity inbox deliver: {t_inbox * scale:.2f} s per 1,000 messages")
        platform.close()


if __name__ == "__main__":
    main()

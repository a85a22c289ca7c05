"""A campaign of 100,000 deliveries scheduled and delivered (issue 17: <= 60 s).

A fresh database (SQLite by default; ``--database-url`` for PostgreSQL) and a real platform:
100,000 customers' profiles (each a morning or evening habit) and their marketing consents in
identity's register are inserted in bulk before the clock starts (building profiles from a lake
of 100,000 people is the send-time benchmark's job), then one creative (headlines + offer) and
one campaign at each person's send time with a 10 % holdout. Timed: ``schedule`` (consent,
opt-outs, audience rule, caps, send time out of quiet hours, holdout, one bulk insert) and
``deliver_due`` (consent and opt-outs again, quiet hours, render, identity's inbox in bulk, one
update and the ``acquisition.delivered`` outbox events per batch). The inbox is counted after.

Run: ``.venv/bin/python benchmarks/acquisition_deliveries.py [--customers 100000]``
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
from sqlalchemy import func, insert, select

from finbridge.acquisition.population import pack_minutes, pack_week
from finbridge.acquisition.tables import ProfileRow
from finbridge.core import ManualClock, Principal, Settings
from finbridge.identity.tables import ConsentRow, InboxMessageRow
from finbridge.platform import Platform
from finbridge.platform._schema import upgrade_database
from finbridge.store.engine import make_engine, unit_of_work

SYSTEM = Principal.system("bench")
DAY = date(2020, 12, 3)


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


def consents(ids: list[str], now: datetime) -> list[dict[str, object]]:
    return [
        {"id": f"consent-{c}", "customer_id": c, "purpose": "marketing",
         "scope": ["behaviour"], "granted_at": now, "withdrawn_at": None}
        for c in ids
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        clock = ManualClock(datetime(2020, 12, 2, 12, 0, tzinfo=UTC))
        settings = Settings(env="test", data_dir=Path(tmp) / "data")
        platform = Platform(settings, make_engine(url), clock)
        upgrade_database(platform)
        rows = profiles(args.customers, clock.now())
        ids = [str(r["customer_id"]) for r in rows]
        with unit_of_work(platform.engine) as session:
            session.execute(insert(ProfileRow), rows)
            session.execute(insert(ConsentRow), consents(ids, clock.now()))
        acq = platform.acquisition
        news = "${headline_1}\n${headline_2}\n"
        acq.save_creative(SYSTEM, "digest", {
            "zh-CN": {"title": "财经早餐 ${date}", "body": news + "推荐：${offer_name}"},
            "en": {"title": "Breakfast ${date}", "body": news + "For you: ${offer_name}"},
        })  # fmt: skip
        camp = acq.create_campaign(SYSTEM, {
            "name": "bench", "audience": "news_reads > 1", "creative": "digest",
            "offer_code": "money_market", "schedule": {"kind": "send_time"}, "holdout_share": 0.1,
        })  # fmt: skip
        load0 = tuple(round(x, 1) for x in os.getloadavg())
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        plan = acq.schedule(SYSTEM, camp.id, DAY)
        t_schedule = time.perf_counter() - t0
        # 21:30 in Shanghai: every send time of the day has passed, quiet hours not begun.
        clock.set(datetime(2020, 12, 3, 13, 30, tzinfo=UTC))
        t1 = time.perf_counter()
        sent = acq.deliver_due(SYSTEM)
        t_deliver = time.perf_counter() - t1
        cpu = time.process_time() - cpu0
        with unit_of_work(platform.engine, write=False) as session:
            inbox = session.scalar(select(func.count()).select_from(InboxMessageRow))
        print(f"backend {platform.engine.dialect.name}, {args.customers:,} customers")
        planned = f"{plan.scheduled:,} scheduled + {plan.holdout:,} held out"
        print(f"schedule: {planned} in {t_schedule:.1f} s")
        print(f"deliver:  {sent.delivered:,} delivered, suppressed {sent.suppressed}, "
              f"{inbox:,} in identity's inbox, in {t_deliver:.1f} s")  # fmt: skip
        print(f"total {t_schedule + t_deliver:.1f} s for {plan.scheduled + plan.holdout:,} rows")
        # On the shared machine wall time follows the load: print it, and this process's CPU
        # time (the database server's work is not in it on PostgreSQL).
        load1 = tuple(round(x, 1) for x in os.getloadavg())
        stamp = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
        print(f"CPU of this process {cpu:.1f} s; load (1/5/15 min) {load0} -> {load1}; {stamp} UTC")
        platform.close()


if __name__ == "__main__":
    main()

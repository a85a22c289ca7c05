"""The nightly drift check end to end: ``AdvisoryService.nightly_drift`` over N customers' holdings
read from the database (the ``advisory_speed.py`` figure times only the array check).

Seeds a fresh migrated database (SQLite file, or a throwaway PostgreSQL database) with N live
profiles (random C1..C5) and five random funds per customer (units > 0), written straight into
the advisory tables (no ledger: the check reads only holdings, pending orders and profiles).
The models are the small-window walk-forward (2008-04..2010-04), built before the clock starts.
Times the whole call (both reads, valuation, the vectorised check); the target is <= 60 s for
100,000 accounts.

Run: ``.venv/bin/python benchmarks/advisory_nightly.py --db sqlite|postgresql [--customers N]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

import numpy as np
from sqlalchemy import Engine, insert, text

from finbridge.advisory import AdvisoryService
from finbridge.advisory.catalogue import catalogue
from finbridge.advisory.portfolios import build_models
from finbridge.advisory.tables import HoldingRow, ProfileRow
from finbridge.banking import BankingService
from finbridge.core import ManualClock, Principal
from finbridge.platform import upgrade_database
from finbridge.store import make_engine

ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
BANK = Principal.system("bench")
NOW = dt.datetime(2017, 6, 1, 2, 0, tzinfo=dt.UTC)  # inside the shipped NAV history
CHUNK = 10_000


class _NoStepUp:
    def require_step_up(self, principal: Principal, action: str, *, demanded: bool = False) -> None:
        return None


def seed(engine: Engine, customers: int, rng: np.random.Generator) -> None:
    funds = [p.code for p in catalogue() if p.kind == "fund"]
    ids = [str(uuid.UUID(int=int(rng.integers(1 << 62)) << 64 | k)) for k in range(customers)]
    cats = rng.integers(1, 6, customers)
    profiles = [
        {"id": str(uuid.uuid4()), "customer_id": c, "questionnaire_version": "bench",
         "answers": {}, "score": 50, "score_category": f"C{k}", "category": f"C{k}", "caps": [],
         "actor_id": "bench", "assessed_at": NOW - dt.timedelta(days=30),
         "expires_at": NOW + dt.timedelta(days=335)}
        for c, k in zip(ids, cats, strict=True)
    ]  # fmt: skip
    holdings = [
        {"customer_id": c, "product_code": f, "units": Decimal(f"{u:.4f}"), "cost_minor": 1000,
         "currency": "USD", "updated_at": NOW}
        for c in ids
        for f, u in zip(rng.choice(funds, 5, replace=False), rng.uniform(1, 100, 5), strict=True)
    ]  # fmt: skip
    with engine.begin() as conn:
        for table, rows in ((ProfileRow.__table__, profiles), (HoldingRow.__table__, holdings)):
            for start in range(0, len(rows), CHUNK):
                conn.execute(insert(table), rows[start : start + CHUNK])


def run(engine: Engine, customers: int) -> None:
    rng = np.random.default_rng(20261206)
    started = time.perf_counter()
    seed(engine, customers, rng)
    print(f"seeded {customers:,} profiles and {5 * customers:,} holdings "
          f"in {time.perf_counter() - started:.1f} s")  # fmt: skip
    clock = ManualClock(NOW)
    service = AdvisoryService(engine, clock, BankingService(engine, clock), _NoStepUp())
    service.use_models(build_models(end=dt.date(2010, 6, 30)))
    print("load average before", os.getloadavg())
    started = time.perf_counter()
    drifted = service.nightly_drift(BANK)
    seconds = time.perf_counter() - started
    print(f"nightly_drift over {customers:,} customers: {seconds:.2f} s, "
          f"{len(drifted):,} need rebalancing; load average after {os.getloadavg()}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--customers", type=int, default=100_000)
    args = parser.parse_args()
    if args.db == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            engine = make_engine(f"sqlite:///{Path(folder) / 'bench.db'}")
            upgrade_database(engine)
            try:
                run(engine, args.customers)
            finally:
                engine.dispose()
        return
    name = f"bench_advisory_{uuid.uuid4().hex[:8]}"
    admin = make_engine(ADMIN_URL)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(ADMIN_URL.rsplit("/", 1)[0] + f"/{name}")
    try:
        upgrade_database(engine)
        run(engine, args.customers)
    finally:
        engine.dispose()
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()

"""Month-end close of business for N credit lines with a month of activity (issue 14).

Set-up (not timed): N customers with a deposit account and a line account (banking's bulk
onboarding), the line floors at minus the limit, three card purchases per line in the month
posted through banking's card batch path (each its own ledger entry), lending's line and activity
rows written in bulk (what ``capture_purchase`` would have booked), and for 30% of the lines
a revolving balance with a month of accrued interest (as if their last statement had not been
paid in full). Every line's statement day is the 5th: the worst month end, all lines at once.

Timed: ``CobRunner.run`` for the statement date with lending's steps (accrual over every line,
due dates, the statement step billing interest as multi-leg journal entries and cutting N
statements, delinquency) plus banking's hold expiry. Reported: seconds, lines per second, the
peak resident memory above the level before the run (sampled every 20 ms), each step's seconds
and the statement step's parts (floor check, banking's ``post_charges``, booking, cutting).

    .venv/bin/python benchmarks/lending_cob.py [--lines 100000] [--backend sqlite|pg|both]
        [--reuse-seed]

Each backend runs in its own process, so one's memory does not count for the other. With
``--reuse-seed`` the seeded database is kept as a copy (a PostgreSQL template database, a SQLite
file under the system's temporary directory) and later runs with the same ``--lines`` start
from that copy: the set-up takes minutes at 100,000 lines, the copy seconds.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, bindparam, insert, text, update

from finbridge.banking import (
    AccountKind,
    BankingService,
    CardTransaction,
    CustomerKind,
    NewAccountSpec,
    NewCustomerSpec,
)
from finbridge.core import ManualClock, Money, Principal
from finbridge.core.ids import new_id
from finbridge.lending import CobRunner, FunctionStep, LendingDay, LendingService
from finbridge.lending.tables import ActivityRow, LineRow
from finbridge.platform import upgrade_database
from finbridge.store import make_engine

PG_ADMIN = os.environ.get(
    "FINBRIDGE_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
PG_DB = os.environ.get("LENDING_BENCH_DB", "finbridge_lending_bench")
OPS = Principal.system("bench")
OPENED = date(2026, 1, 4)
STATEMENT = date(2026, 2, 5)
LIMIT_MINOR = 2_000_000  # 20,000.00


def _rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class PeakRss:
    def __init__(self) -> None:
        self.base = _rss_kib()
        self.peak = self.base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, _rss_kib())

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _admin(sql: str) -> bool:
    """Run one statement on the PostgreSQL server's admin database; False if it failed."""
    admin = make_engine(PG_ADMIN).execution_options(isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(sql))
        return True
    except Exception:
        return False
    finally:
        admin.dispose()


def _seed_copy(backend: str, n: int) -> str:
    if backend == "sqlite":
        return str(Path(tempfile.gettempdir()) / f"finbridge-lending-cob-{n}.db")
    return f"{PG_DB}_seed_{n}"


def _engine(backend: str, workdir: Path, n: int, reuse: bool) -> tuple[Engine, bool]:
    """The benchmark's database, and whether it is already seeded (copied from a kept seed)."""
    if backend == "sqlite":
        path = workdir / "bench.db"
        seeded = reuse and Path(_seed_copy(backend, n)).exists()
        if seeded:
            shutil.copyfile(_seed_copy(backend, n), path)
        return make_engine(f"sqlite:///{path}"), seeded
    _admin(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')
    seeded = reuse and _admin(f'CREATE DATABASE "{PG_DB}" TEMPLATE "{_seed_copy(backend, n)}"')
    if not seeded:
        _admin(f'CREATE DATABASE "{PG_DB}"')
    return make_engine(PG_ADMIN.rsplit("/", 1)[0] + f"/{PG_DB}"), seeded


def _keep_seed(backend: str, engine: Engine, workdir: Path, n: int) -> None:
    engine.dispose()
    if backend == "sqlite":
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        engine.dispose()
        shutil.copyfile(workdir / "bench.db", _seed_copy(backend, n))
        return
    _admin(f'DROP DATABASE IF EXISTS "{_seed_copy(backend, n)}" WITH (FORCE)')
    _admin(f'CREATE DATABASE "{_seed_copy(backend, n)}" TEMPLATE "{PG_DB}"')


def _seed(engine: Engine, clock: ManualClock, n: int) -> LendingService:
    bank = BankingService(engine, clock)
    svc = LendingService(engine, clock, bank)
    svc.install_catalogue(OPS)
    t0 = time.perf_counter()
    cny = Money.of("5000.00", "CNY")
    specs = [
        NewCustomerSpec(
            CustomerKind.PERSONAL, f"bench {i}",
            (NewAccountSpec(AccountKind.CURRENT, cny), NewAccountSpec(AccountKind.CURRENT,
                                                                     Money.zero("CNY"))),
            external_ref=f"bench-{i}",
        )
        for i in range(n)
    ]  # fmt: skip
    opened = bank.open_customers_bulk(OPS, specs, emit_events=False)
    lines = [(c.customer_id, c.account_ids[0], c.account_ids[1]) for c in opened]
    # Set-up only: the floors in one statement (the service's set_floor does one account at a
    # time; a line opened by ``apply`` gets its floor that way).
    with engine.begin() as conn:
        ids = [line for _, _, line in lines]
        for k in range(0, len(ids), 5000):
            conn.execute(
                text("UPDATE banking_accounts SET floor_minor = :f WHERE id IN :ids").bindparams(
                    bindparam("ids", expanding=True)
                ),
                {"f": -LIMIT_MINOR, "ids": ids[k : k + 5000]},
            )
    rng = random.Random(14)
    purchases: list[tuple[str, int, date, str]] = []
    items = []
    for _, _, line in lines:
        for j in range(3):
            minor = rng.randint(1_000, 200_000)
            day = date(2026, 1, rng.randint(6, 31))
            key = f"bench:{line}:{j}"
            purchases.append((line, minor, day, key))
            items.append(
                CardTransaction(line, Money.from_minor(minor, "CNY"), key,
                                datetime(2026, 1, day.day, 4, tzinfo=UTC), merchant="bench")
            )  # fmt: skip
    res = bank.post_card_transactions(OPS, items, emit_events=False)
    assert res.posted == len(items), res
    with engine.connect() as conn:
        entry_of = dict(
            conn.execute(
                text("SELECT idempotency_key, id FROM banking_journal_entries "
                     "WHERE idempotency_key LIKE 'system:bench:bench:%'")
            ).all()
        )  # fmt: skip
    now = clock.now()
    owed: dict[str, int] = {}
    for line, minor, _, _ in purchases:
        owed[line] = owed.get(line, 0) + minor
    line_rows: list[dict[str, Any]] = []
    terms = svc.product(OPS, "everyday@1").to_json()
    for i, (cust, dep, line) in enumerate(lines):
        revolving = owed[line] if i % 10 < 3 else 0
        line_rows.append({
            "id": line, "customer_id": cust, "product_id": "everyday@1", "terms": terms,
            "currency": "CNY", "account_id": line, "deposit_account_id": dep,
            "limit_minor": LIMIT_MINOR, "status": "active", "opened_on": OPENED,
            "next_statement_date": STATEMENT, "purchase_rate_e6": 500, "cash_rate_e6": 500,
            "fees_minor": 0, "interest_minor": 0, "revolving_minor": revolving, "cash_minor": 0,
            "purchases_minor": owed[line] - revolving, "credit_minor": 0,
            "accrued_micro": revolving * 500 * 30, "dpd": 0, "bucket": "current",
            "over_limit_minor": 0, "charged_off_minor": 0, "recovered_minor": 0,
            "created_at": now,
        })  # fmt: skip
    activity = [
        {
            "id": new_id(), "line_id": line, "business_date": day,
            "kind": "purchase", "amount_minor": minor,
            "entry_id": entry_of[f"system:bench:{key}"], "idempotency_key": key,
            "purchase_id": None, "detail": {}, "created_at": now, "cash_delta_minor": 0,
            "revolving_delta_minor": 0,
        }
        for line, minor, day, key in purchases
    ]  # fmt: skip
    with engine.begin() as conn:
        for k in range(0, len(line_rows), 5000):
            conn.execute(insert(LineRow.__table__), line_rows[k : k + 5000])
        for k in range(0, len(activity), 5000):
            conn.execute(insert(ActivityRow.__table__), activity[k : k + 5000])
    # The days before the statement date are closed already (their accruals are in the lines).
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO lending_cob_days (business_date, status, started_at, finished_at) "
                 "VALUES (:d, 'done', :t, :t)"),
            {"d": date(2026, 2, 4), "t": now},
        )  # fmt: skip
        conn.execute(update(LineRow.__table__).values(opened_on=OPENED))
    print(f"  set-up: {n:,} lines, {len(items):,} purchases in {time.perf_counter() - t0:.1f} s",
          flush=True)  # fmt: skip
    return svc


def _time_parts(svc: LendingService, day: LendingDay) -> dict[str, float]:
    """Wall time of the statement step's parts, summed over its calls (wrapped on the
    instances, so nothing is measured twice and the code measured is the code that runs)."""
    spent: dict[str, float] = {}

    def timed(owner: Any, name: str, label: str) -> None:
        real = getattr(owner, name)

        def wrapper(*args: Any, **kw: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return real(*args, **kw)
            finally:
                spent[label] = spent.get(label, 0.0) + time.perf_counter() - t0

        setattr(owner, name, wrapper)

    timed(day, "_make_room", "floor check")
    timed(svc.bank_postings, "post_charges", "banking post_charges")
    timed(svc, "_book_many", "booking the interest")
    timed(day, "_cut_chunk", "cutting statements")
    return spent


def run_one(backend: str, n: int, reuse: bool, profile: str | None = None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        engine, seeded = _engine(backend, Path(tmp), n, reuse)
        upgrade_database(engine)
        clock = ManualClock(datetime(2026, 2, 4, 2, tzinfo=UTC))
        if seeded:
            print(f"  set-up: copied the kept seed {_seed_copy(backend, n)}", flush=True)
            svc = LendingService(engine, clock, BankingService(engine, clock))
        else:
            svc = _seed(engine, clock, n)
            if reuse:
                _keep_seed(backend, engine, Path(tmp), n)
        day = LendingDay(svc)
        parts = _time_parts(svc, day)
        steps = [
            FunctionStep("banking.expire_holds", lambda d: {"n": svc.banking.expire_holds(OPS)}),
            *day.steps(),
        ]
        runner = CobRunner(engine, clock, steps)
        clock.set(datetime(2026, 2, 6, 2, tzinfo=UTC))
        timings: dict[str, float] = {}
        last = [time.perf_counter()]

        def progress(day: date, step: str, index: int, total: int) -> None:
            now = time.perf_counter()
            if index > 0:
                timings[steps[index - 1].name] = now - last[0]
            last[0] = now

        profiler = cProfile.Profile() if profile else None
        with PeakRss() as mem:
            t0 = time.perf_counter()
            if profiler is not None:
                profiler.enable()
            closed = runner.run(OPS, until=STATEMENT, progress=progress)
            if profiler is not None:
                profiler.disable()
                profiler.dump_stats(profile)
            seconds = time.perf_counter() - t0
        assert closed == [STATEMENT], closed
        with engine.connect() as conn:
            statements = conn.execute(text("SELECT count(*) FROM lending_statements")).scalar()
            interest = conn.execute(
                text("SELECT count(*) FROM lending_activity WHERE kind = 'interest'")
            ).scalar()
        print(f"{backend}: month-end COB for {n:,} lines in {seconds:.1f} s = "
              f"{n / seconds:,.0f} lines/s; statements {statements:,}, interest billed on "
              f"{interest:,} lines; peak RSS +{(mem.peak - mem.base) / 1024:.0f} MiB "
              f"(process peak {mem.peak / 1024:.0f} MiB)", flush=True)  # fmt: skip
        for name, secs in timings.items():
            print(f"    {name:28s} {secs:7.2f} s")
        for name, secs in parts.items():
            print(f"      in it: {name:24s} {secs:7.2f} s")
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--backend", choices=("sqlite", "pg", "both"), default="both")
    parser.add_argument("--reuse-seed", action="store_true")
    parser.add_argument("--profile", help="write cProfile stats of the timed run to this file")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child or args.backend != "both":
        print(f"load average before: {os.getloadavg()}", flush=True)
        run_one(args.backend, args.lines, args.reuse_seed, args.profile)
        print(f"load average after: {os.getloadavg()}", flush=True)
        return
    print(f"load average before: {os.getloadavg()}")
    for backend in ("pg", "sqlite"):
        cmd = [sys.executable, __file__, "--lines", str(args.lines), "--backend", backend]
        cmd += ["--reuse-seed"] if args.reuse_seed else []
        subprocess.run(cmd, check=True)
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()

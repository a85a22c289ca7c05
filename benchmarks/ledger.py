"""Ledger throughput: transfers/s and p50/p99 latency through BankingService, 8 clients.

Runs on SQLite (a temp file) and on PostgreSQL (a scratch database; a two-leg movement there is
one autocommit statement generated from the posting rule, see ``banking.ledger``), and beside
each the same backend's ceiling for TPC-B's work, in the same run, and prints the ratios:

* PostgreSQL: ``pgbench``'s built-in TPC-B-like script, same client count (target >= 0.6x);
* SQLite: a plain ``sqlite3`` script doing TPC-B's work (3 updates, 1 select, 1 insert per
  transaction) on a file in the same directory, with the platform's pragmas
  (``store.SQLITE_PRAGMAS``: WAL, ``synchronous=FULL``), one connection per client thread
  (target >= 0.5x). ``--sqlite-synchronous normal`` runs both sides without the commit's fsync.
  The two sides take turns in ``--rounds`` rounds (ours, then the peer, each for its share of
  ``--seconds``), and the ratio is of their totals: on a shared two-core box the CPU's speed
  drifts by a third within a minute, and one run of each, back to back, measured the drift.

Every transfer is the full service path: authorisation, validation, guarded balance updates,
postings, the sealed journal entry with its idempotency key, and the outbox event, atomically.

    .venv/bin/python benchmarks/ledger.py [--seconds 15] [--clients 8] [--accounts 2000]

Clients are OS processes (one engine each), so Python's GIL does not cap PostgreSQL; on SQLite
the clients are threads of one process sharing one service and engine by default (a server's
request threads), because SQLite admits one writer at a time: in-process postings share a
transaction (banking's group commit), and the script prints how many each held
(``--sqlite-processes`` measures processes instead). On PostgreSQL the script also prints
the server backends' CPU per transfer and per pgbench transaction (read from ``/proc``: the
server must run on this machine), which splits each side's cost into client and server. The
last line is the verdict on both targets.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import re
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text

from finbridge.banking import (
    AccountKind,
    BankingService,
    CustomerKind,
    NewAccountSpec,
    NewCustomerSpec,
)
from finbridge.banking.ledger._group import group_commit  # measurement: batch sizes
from finbridge.banking.writelock import writer_lock
from finbridge.core import InsufficientFunds, Money, Principal, SystemClock
from finbridge.platform import upgrade_database
from finbridge.store import SQLITE_PRAGMAS, is_sqlite, make_engine

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
_TICKS = os.sysconf("SC_CLK_TCK")
PG_BENCH_DB = "finbridge_ledger_bench"
PGBENCH_DB = "finbridge_pgbench"


def _seed(url: str, n_accounts: int) -> list[str]:
    engine = make_engine(url)
    upgrade_database(engine)
    svc = BankingService(engine, SystemClock())
    specs = [
        NewCustomerSpec(
            CustomerKind.PERSONAL,
            f"bench {i}",
            (NewAccountSpec(AccountKind.CURRENT, Money.of("1000000", "CNY")),),
        )
        for i in range(n_accounts)
    ]
    opened = svc.open_customers_bulk(Principal.system("bench"), specs, emit_events=False)
    engine.dispose()
    return [o.account_ids[0] for o in opened]


def _engine(url: str, pre_ping: bool, synchronous: str | None = None) -> Engine:
    """The platform's engine; on PostgreSQL optionally without pool pre-ping.

    ``make_engine`` pings every pooled connection at checkout (one extra round trip per
    transaction). The default run measures without it; ``--pre-ping`` measures with it.
    ``synchronous`` (SQLite, measurement only) overrides the platform's commit durability after
    its own pragmas ran, so both sides of the comparison can run without the fsync.
    """
    if url.startswith("sqlite") or pre_ping:
        engine = make_engine(url, pool_size=2)
        if synchronous is not None and url.startswith("sqlite"):

            @event.listens_for(engine, "connect")
            def _override(dbapi_connection: Any, _record: Any) -> None:
                dbapi_connection.execute(f"PRAGMA synchronous={synchronous}")

        return engine
    return create_engine(url, pool_size=2, max_overflow=2)


def _pragmas(synchronous: str | None) -> tuple[str, ...]:
    """The platform's SQLite pragmas, with ``synchronous`` overridden where asked."""
    if synchronous is None:
        return SQLITE_PRAGMAS
    return tuple(
        f"synchronous={synchronous}" if p.startswith("synchronous=") else p for p in SQLITE_PRAGMAS
    )


def _client(
    url: str,
    accounts: list[str],
    seconds: float,
    seed: int,
    barrier: Any,
    pre_ping: bool,
    shared: BankingService | None = None,
    synchronous: str | None = None,
) -> Any:
    """Run transfers for ``seconds`` once every client is ready; returns (latencies, refused).

    ``shared``: the process's one service (threads of one server share its engine, as the
    platform's request threads do); otherwise this client builds its own (a process).
    """
    engine = _engine(url, pre_ping, synchronous) if shared is None else shared.engine
    svc = shared or BankingService(engine, SystemClock())
    actor = Principal.system(f"client-{seed}")
    rng = random.Random(seed)
    # Warm up the connection and the statement cache outside the measured window.
    a, b = rng.sample(accounts, 2)
    svc.transfer(actor, a, b, Money.of("0.01", "CNY"), idempotency_key=f"warm-{seed}")
    latencies: list[float] = []
    refused = 0
    barrier.wait()
    cpu0 = time.thread_time()  # this client only (SQLite clients are threads of one process)
    deadline = time.time() + seconds
    n = 0
    while True:
        t0 = time.perf_counter()
        if time.time() >= deadline:
            break
        a, b = rng.sample(accounts, 2)
        n += 1
        try:
            svc.transfer(
                actor,
                a,
                b,
                Money.from_minor(rng.randint(1, 10_000), "CNY"),
                idempotency_key=f"{seed}-{n}",
            )
        except InsufficientFunds:
            refused += 1
        latencies.append(time.perf_counter() - t0)
    cpu = time.thread_time() - cpu0
    if shared is None:
        engine.dispose()
    return latencies, refused, cpu


def _client_proc(queue: Any, *args: Any) -> None:
    queue.put(_client(*args))


def _run_clients(
    url: str,
    accounts: list[str],
    clients: int,
    seconds: float,
    processes: bool,
    pre_ping: bool = False,
    synchronous: str | None = None,
    first_seed: int = 0,
) -> dict[str, Any]:
    """Run ``clients`` for ``seconds``. Client ``i`` is seeded ``first_seed + i``, which also
    names its actor and idempotency keys: a later round passes new seeds, or every transfer
    would be a replay of an earlier round's key."""
    if processes:
        ctx = mp.get_context("spawn")
        barrier: Any = ctx.Barrier(clients)
        queue = ctx.SimpleQueue()
        procs = [
            ctx.Process(
                target=_client_proc,
                args=(
                    queue,
                    url,
                    accounts,
                    seconds,
                    first_seed + i,
                    barrier,
                    pre_ping,
                    None,
                    synchronous,
                ),
            )
            for i in range(clients)
        ]
        for p in procs:
            p.start()
        results = [queue.get() for _ in procs]
        for p in procs:
            p.join()
    else:
        barrier = threading.Barrier(clients)
        results = [None] * clients
        engine = _engine(url, pre_ping, synchronous)
        shared = BankingService(engine, SystemClock())
        shared.warm()

        def run(i: int) -> None:
            results[i] = _client(url, accounts, seconds, first_seed + i, barrier, pre_ping, shared)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if is_sqlite(engine):
            group = group_commit(engine, writer_lock(engine))
            print(
                f"group commit: {group.postings} postings in {group.batches} transactions"
                f" ({group.postings / max(group.batches, 1):.2f} each)"
            )
        engine.dispose()
    latencies = [x for r in results for x in r[0]]  # type: ignore[index]
    refused = sum(r[1] for r in results)  # type: ignore[index]
    cpu = sum(r[2] for r in results)  # type: ignore[index]
    return _figures(latencies, seconds, refused, cpu)


def _figures(latencies: list[float], seconds: float, refused: int, cpu: float) -> dict[str, Any]:
    """Throughput, latency percentiles and client CPU (``cpu`` seconds in all) of one side."""
    latencies = sorted(latencies)
    q = statistics.quantiles(latencies, n=100)
    return {
        "transfers": len(latencies),
        "tps": len(latencies) / seconds,
        "p50_ms": q[49] * 1000,
        "p99_ms": q[98] * 1000,
        "refused": refused,
        "client_cpu_ms": cpu / max(len(latencies), 1) * 1000,
        "cpu_s": cpu,
        "latencies": latencies,
    }


def _verify(url: str) -> bool:
    engine = make_engine(url)
    ok = BankingService(engine, SystemClock()).verify_ledger(Principal.system("bench")).ok
    engine.dispose()
    return ok


class _ServerCPU:
    """CPU seconds of the server's backends serving ``database``, read from ``/proc`` (the
    server runs on this machine) every 50 ms while a run lasts: splits a run's cost into
    client and server, ours and pgbench's alike. Background processes (WAL writer,
    checkpointer) are not counted, for either."""

    def __init__(self, database: str) -> None:
        self._database = database
        self._first: dict[int, float] = {}
        self._last: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> _ServerCPU:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def seconds(self) -> float:
        return sum(self._last[pid] - self._first[pid] for pid in self._last)

    def _watch(self) -> None:
        import psycopg

        query = (
            "SELECT pid FROM pg_stat_activity"
            " WHERE datname = %s AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
        )
        with psycopg.connect(PG_ADMIN.replace("+psycopg", ""), autocommit=True) as conn:
            while not self._stop.wait(0.05):
                for (pid,) in conn.execute(query, (self._database,)).fetchall():
                    try:
                        with open(f"/proc/{pid}/stat") as f:
                            fields = f.read().rsplit(")", 1)[1].split()
                    except OSError:  # the backend ended (or is not on this machine)
                        continue
                    cpu = (int(fields[11]) + int(fields[12])) / _TICKS  # utime + stime
                    self._first.setdefault(pid, cpu)
                    self._last[pid] = cpu


def _pg_recreate(name: str) -> str:
    admin = make_engine(PG_ADMIN).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"


def _pgbench(clients: int, seconds: int, scale: int) -> tuple[float, float]:
    """pgbench's TPC-B tps and its server CPU (ms) per transaction."""
    _pg_recreate(PGBENCH_DB)
    base = ["-h", "127.0.0.1", "-U", "postgres"]
    subprocess.run(
        ["pgbench", *base, "-i", "-q", "-s", str(scale), PGBENCH_DB],
        check=True,
        capture_output=True,
    )
    with _ServerCPU(PGBENCH_DB) as server:
        out = subprocess.run(
            ["pgbench", *base, "-c", str(clients), "-j", "2", "-T", str(seconds), PGBENCH_DB],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    match = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", out)
    if match is None:  # older pgbench prints "excluding connections establishing"
        match = re.search(r"tps = ([0-9.]+) \(excluding", out)
    assert match, out
    done = re.search(r"actually processed: (\d+)", out)
    per_tx = server.seconds / max(int(done.group(1)), 1) * 1000 if done else float("nan")
    return float(match.group(1)), per_tx


# pgbench's built-in TPC-B-like transaction, statement for statement.
_TPCB = (
    "UPDATE accounts SET abalance = abalance + ? WHERE aid = ?",
    "SELECT abalance FROM accounts WHERE aid = ?",
    "UPDATE tellers SET tbalance = tbalance + ? WHERE tid = ?",
    "UPDATE branches SET bbalance = bbalance + ? WHERE bid = 1",
    "INSERT INTO history VALUES (?, 1, ?, ?, CURRENT_TIMESTAMP, '')",
)


def _plain_sqlite_setup(directory: Path, n_accounts: int) -> Path:
    """The plain script's TPC-B tables (accounts, tellers, a branch, history), created once."""
    import sqlite3

    path = directory / "tpcb.db"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(
        """
        CREATE TABLE accounts (aid INTEGER PRIMARY KEY, bid INT, abalance INT, filler CHAR(84));
        CREATE TABLE tellers (tid INTEGER PRIMARY KEY, bid INT, tbalance INT, filler CHAR(84));
        CREATE TABLE branches (bid INTEGER PRIMARY KEY, bbalance INT, filler CHAR(88));
        CREATE TABLE history (tid INT, bid INT, aid INT, delta INT, mtime TIMESTAMP,
                              filler CHAR(22));
        """
    )
    db.execute("BEGIN")
    db.executemany("INSERT INTO accounts VALUES (?, 1, 0, '')", ((i,) for i in range(n_accounts)))
    db.executemany("INSERT INTO tellers VALUES (?, 1, 0, '')", ((i,) for i in range(10)))
    db.execute("INSERT INTO branches VALUES (1, 0, '')")
    db.execute("COMMIT")
    db.close()
    return path


def _plain_sqlite_tpcb(
    path: Path, clients: int, seconds: float, n_accounts: int, synchronous: str | None
) -> int:
    """TPC-B's work in plain ``sqlite3`` for ``seconds``: transactions committed (the ceiling
    a Python SQLite client can reach here)."""
    import sqlite3

    done = [0] * clients
    lock = threading.Lock()  # writers queue in-process, as the service's writer lock does
    barrier = threading.Barrier(clients)

    def run(i: int) -> None:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        for pragma in _pragmas(synchronous):  # the platform's own: same durability both sides
            conn.execute(f"PRAGMA {pragma}")
        rng = random.Random(i)
        barrier.wait()
        deadline = time.time() + seconds
        while time.time() < deadline:
            aid, tid, delta = rng.randrange(n_accounts), rng.randrange(10), rng.randint(-5000, 5000)
            with lock:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute(
                    "UPDATE accounts SET abalance = abalance + ? WHERE aid = ?", (delta, aid)
                )
                conn.execute("SELECT abalance FROM accounts WHERE aid = ?", (aid,)).fetchone()
                conn.execute(
                    "UPDATE tellers SET tbalance = tbalance + ? WHERE tid = ?", (delta, tid)
                )
                conn.execute("UPDATE branches SET bbalance = bbalance + ? WHERE bid = 1", (delta,))
                conn.execute(
                    "INSERT INTO history VALUES (?, 1, ?, ?, CURRENT_TIMESTAMP, '')",
                    (tid, aid, delta),
                )
                conn.execute("COMMIT")
            done[i] += 1
        conn.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done)


def _merged(rounds: list[dict[str, Any]], seconds: float) -> dict[str, Any]:
    """One side's figures over all its rounds (``seconds`` of measured time in all)."""
    return _figures(
        [x for r in rounds for x in r["latencies"]],
        seconds,
        sum(r["refused"] for r in rounds),
        sum(r["cpu_s"] for r in rounds),
    )


def _sqlite_rounds(args: argparse.Namespace) -> float:
    """Our SQLite ledger and the plain script, taking turns; prints both and returns the ratio."""
    tmp = Path(tempfile.mkdtemp(prefix="ledger-bench-"))
    url = f"sqlite:///{tmp / 'bench.db'}"
    accounts = _seed(url, args.accounts)
    peer = _plain_sqlite_setup(tmp, args.accounts)
    sync = args.sqlite_synchronous.upper() if args.sqlite_synchronous else None
    print("sqlite pragmas:", ", ".join(_pragmas(sync)))
    share = args.seconds / args.rounds
    ours: list[dict[str, Any]] = []
    theirs = 0
    for i in range(args.rounds):
        ours.append(
            _run_clients(
                url,
                accounts,
                args.clients,
                share,
                args.sqlite_processes,
                synchronous=sync,
                first_seed=i * args.clients,
            )
        )
        plain = _plain_sqlite_tpcb(peer, args.clients, share, args.accounts, sync)
        theirs += plain
        print(
            f"round {i + 1}/{args.rounds}: sqlite {ours[-1]['tps']:.0f} transfers/s,"
            f" plain sqlite3 {plain / share:.0f} tps: {ours[-1]['tps'] * share / plain:.1%}"
        )
    report = _merged(ours, args.seconds)
    print(_line("sqlite", report), "ledger ok:", _verify(url))
    figure = f"{theirs / args.seconds:>9.0f} tps (plain sqlite3, same pragmas and disk)"
    print(f"{'sqlite3 TPC-B':<12} {figure}")
    ratio = report["transfers"] / theirs
    print(f"ratio        {ratio:9.1%} of plain sqlite3 TPC-B over the rounds (target >= 50%)")
    shutil.rmtree(tmp, ignore_errors=True)
    return ratio


def _line(name: str, r: dict[str, Any]) -> str:
    return (
        f"{name:<12} {r['tps']:>9.0f} transfers/s  p50 {r['p50_ms']:6.2f} ms  "
        f"p99 {r['p99_ms']:7.2f} ms  ({int(r['transfers'])} transfers, "
        f"{int(r['refused'])} refused for funds; client CPU {r['client_cpu_ms']:.2f} ms each)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--pgbench-scale", type=int, default=8)
    parser.add_argument("--sqlite-processes", action="store_true")
    parser.add_argument(
        "--rounds", type=int, default=3, help="SQLite: turns each side takes (ours, then peer)"
    )
    parser.add_argument("--pre-ping", action="store_true", help="keep pool pre-ping (PG)")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument(
        "--sqlite-synchronous",
        choices=("full", "normal"),
        help="override the platform's SQLite commit durability on both sides (measurement)",
    )
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error(f"--rounds must be at least 1, not {args.rounds}")

    print(f"machine: {os.cpu_count()} cores; load average before: {os.getloadavg()}")
    print(f"clients: {args.clients}, {args.seconds:.0f} s per run, {args.accounts} accounts")
    report: dict[str, dict[str, Any]] = {}
    ratios: dict[str, float] = {}
    if not args.skip_sqlite:
        ratios["sqlite"] = _sqlite_rounds(args)
    if not args.skip_postgres:
        print(f"load average before postgresql: {os.getloadavg()}")
        url = _pg_recreate(PG_BENCH_DB)
        accounts = _seed(url, args.accounts)
        with _ServerCPU(PG_BENCH_DB) as server:
            report["postgresql"] = _run_clients(
                url, accounts, args.clients, args.seconds, True, args.pre_ping
            )
        print(_line("postgresql", report["postgresql"]), "ledger ok:", _verify(url))
        # The clients' warm-up transfers are counted too (one each): noise at these counts.
        ours = server.seconds / max(report["postgresql"]["transfers"], 1) * 1000
        print(f"{'':<12} server CPU {ours:.2f} ms per transfer (backends, from /proc)")
        # Other work on a shared machine moves between the two runs: show the load each saw.
        print(f"load average before pgbench: {os.getloadavg()}")
        tps, theirs = _pgbench(args.clients, int(args.seconds), args.pgbench_scale)
        ratio = ratios["postgresql"] = report["postgresql"]["tps"] / tps
        print(
            f"{'pgbench':<12} {tps:>9.0f} TPC-B tps (-c {args.clients} -j 2);"
            f" server CPU {theirs:.2f} ms per transaction"
        )
        print(f"ratio        {ratio:9.1%} of pgbench (target >= 60%)")
        admin = make_engine(PG_ADMIN).execution_options(isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            for name in (PG_BENCH_DB, PGBENCH_DB):
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    print(f"load average after: {os.getloadavg()}  at {SystemClock().now().isoformat()}")
    verdicts = [
        f"{name} {ratio:.1%} of {peer} (target >= {target:.0%}): "
        + ("MET" if ratio >= target else "MISSED")
        for name, peer, target, ratio in (
            ("sqlite", "plain sqlite3 TPC-B", 0.5, ratios.get("sqlite")),
            ("postgresql", "pgbench", 0.6, ratios.get("postgresql")),
        )
        if ratio is not None
    ]
    print("verdict: " + "; ".join(verdicts))


if __name__ == "__main__":
    main()

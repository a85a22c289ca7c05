"""The customer app under load: 50 signed-in customers at once, each opening the home page and
an account's transaction list (with its monthly spending chart) again and again.

    .venv/bin/python benchmarks/app_pages.py --db sqlite|postgresql [--customers 50]
        [--rounds 20] [--postings 120] [--think 0] [--port 8798]

The database is seeded through the services (each customer: 3 accounts, ``--postings`` payments
spread over six months, a message); then ``finbridge serve`` runs as its own process (one
uvicorn worker, as deployed) and every customer signs in through the app's real form. The load
runs from this process with one httpx client per customer (its own cookies). Prints p50/p95/p99
per page and the load average around the run (the machine is shared: say so with the figures).
``--think 0`` (default) sends each customer's next request as soon as the last one answered:
50 requests always in flight, the server saturated. ``--think S`` has each customer read a page
for S seconds on average (uniform 0.5-1.5 S) before the next click, as people do.

Two figures that survive the shared machine's load are printed beside the latencies: the
statements (and, on PostgreSQL, the client/server round trips, from libpq's protocol trace)
each page costs, counted in this process on the seeded database before the server starts; and
the server process's CPU time per page over the run (``/proc/<pid>/stat``; child processes
such as the advisory model build are not in it).

The lead's quiet-machine runs (issue 13's bar):

    .venv/bin/python benchmarks/app_pages.py --db sqlite --think 1 --rounds 30
    .venv/bin/python benchmarks/app_pages.py --db postgresql --think 1 --rounds 30
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, event, text

from finbridge.banking import ApproveAll
from finbridge.core import ManualClock, Money, Principal, Settings
from finbridge.identity import RegistrationRequest
from finbridge.platform import Platform, upgrade_database
from finbridge.site import create_app
from finbridge.store import make_engine

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN = os.environ.get(
    "FINBRIDGE_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
PASSWORD = "bench password 1"
SYSTEM = Principal.system("bench")
WARM_ROUNDS = 3  # the "warm" lines leave these first rounds out (caches, the model build)
_CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


def _id_number(i: int) -> str:
    body = f"110101{1970 + i % 30}0{1 + i % 9}1{i % 10}{i:03d}"[:17]
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]


def _database(kind: str, data: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{data / 'finbridge.db'}"
    name = "finbridge_bench_app"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"


def seed(url: str, data: Path, customers: int, postings: int) -> list[tuple[str, str]]:
    """(phone, an account id) per customer; payments spread over the last six months."""
    settings = Settings(env="development", data_dir=data, database_url=url)
    settings = settings.with_changes(
        identity=settings.identity.model_copy(update={"password_hashing": "fast"})
    )
    start = datetime.now(UTC) - timedelta(days=180)
    clock = ManualClock(start)
    engine = make_engine(url)
    upgrade_database(engine)
    platform = Platform(settings=settings, engine=engine, clock=clock)
    platform.use_posting_guard(ApproveAll())
    bank, ids = platform.banking, platform.identity
    payee_id = ids.persons.register(
        RegistrationRequest("收款人", "prc_resident_id", _id_number(999), "13600000000")
    ).customer_id
    payee = bank.open_account(SYSTEM, payee_id, kind="current", currency_code="CNY").id
    out: list[tuple[str, str]] = []
    step = timedelta(days=180) / max(postings, 1)
    for i in range(customers):
        phone = f"137{i:08d}"
        name = "王" + "一二三四五六七八九十"[i % 10] + "明华强伟芳丽军静"[i // 10 % 8]
        req = RegistrationRequest(name, "prc_resident_id", _id_number(i), phone)
        cid = ids.persons.register(req, password=PASSWORD).customer_id
        current = bank.open_account(SYSTEM, cid, kind="current", currency_code="CNY").id
        bank.open_account(SYSTEM, cid, kind="savings", currency_code="CNY")
        bank.open_account(SYSTEM, cid, kind="current", currency_code="USD")
        bank.deposit(SYSTEM, current, Money.of("100000", "CNY"), idempotency_key=f"d{i}")
        clock.set(start)
        for j in range(postings):
            clock.advance(step)
            bank.transfer(
                SYSTEM, current, payee, Money.of(f"{1 + j % 50}.25", "CNY"),
                idempotency_key=f"p{i}-{j}", description=f"payment {j}",
            )  # fmt: skip
        ids.inbox.deliver(SYSTEM, cid, kind="notice", title="欢迎", body="hello")
        out.append((phone, current))
    platform.close()
    return out


async def _customer(
    base: str,
    phone: str,
    account: str,
    rounds: int,
    times: dict[str, list[float]],
    think: float,
) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        token = _CSRF.search((await client.get("/app/login")).text)
        assert token
        r = await client.post(
            "/app/login",
            data={"phone": phone, "password": PASSWORD, "csrf_token": token.group(1)},
        )
        assert r.status_code in (200, 303) and "finbridge_app" in client.cookies, r.status_code
        for round_ in range(rounds):
            for name, path in (("home", "/app"), ("transactions", f"/app/accounts/{account}")):
                started = time.perf_counter()
                response = await client.get(path)
                times[name].append((time.perf_counter() - started) * 1000)
                if round_ >= WARM_ROUNDS:
                    times[f"{name}, warm"].append(times[name][-1])
                assert response.status_code == 200, (path, response.status_code)
                if think:  # a person reads the page before the next click
                    await asyncio.sleep(random.uniform(0.5 * think, 1.5 * think))


def _sign_in(client: httpx.Client | TestClient, phone: str) -> None:
    token = _CSRF.search(client.get("/app/login").text)
    assert token
    form = {"phone": phone, "password": PASSWORD, "csrf_token": token.group(1)}
    client.post("/app/login", data=form)
    assert "finbridge_app" in client.cookies


def count_per_page(url: str, data: Path, phone: str, account: str, n: int = 5) -> dict[str, str]:
    """Statements (and PostgreSQL round trips) per page, the mean over ``n`` warm requests."""
    settings = Settings(env="development", data_dir=data, database_url=url)
    engine = make_engine(url)
    statements = 0
    trace_path = data / "pq.trace"
    trace = trace_path.open("w")  # libpq writes it through its own FILE: read it afresh

    @event.listens_for(engine, "before_cursor_execute")
    def _count(*_args: object) -> None:
        nonlocal statements
        statements += 1

    if engine.dialect.name == "postgresql":

        @event.listens_for(engine, "connect")
        def _trace(dbapi_connection: object, _record: object) -> None:
            dbapi_connection.pgconn.trace(trace.fileno())  # type: ignore[attr-defined]

    platform = Platform(settings=settings, engine=engine)
    out: dict[str, str] = {}
    try:
        client = TestClient(create_app(platform=platform))
        _sign_in(client, phone)
        for name, path in (("home", "/app"), ("transactions", f"/app/accounts/{account}")):
            client.get(path)  # caches filled, pool connected
            statements, start = 0, trace_path.stat().st_size
            for _ in range(n):
                assert client.get(path).status_code == 200
            with trace_path.open("rb") as written:
                written.seek(start)
                lines = written.read().decode(errors="replace").splitlines()
            sent = [line.split("\t")[3].split(" ")[0] for line in lines if "\tF\t" in line]
            trips = sent.count("Sync") + sent.count("Query")  # each waits for the server
            out[name] = f"{statements / n:.1f} statements" + (
                f", {trips / n:.1f} round trips" if trips else ""
            )
    finally:
        platform.close()
        trace.close()
    return out


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of process ``pid`` so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _serve(url: str, data: Path, port: int) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "FINBRIDGE_DATABASE_URL": url,
        "FINBRIDGE_DATA_DIR": str(data),
        "FINBRIDGE_IDENTITY__PASSWORD_HASHING": "fast",
    }
    cmd = [str(ROOT / ".venv/bin/finbridge"), "serve", "--port", str(port)]
    log = (data / "serve.log").open("w")  # why, if it never becomes ready
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 600  # start-up took over 180 s at load 15+
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.kill()
    sys.exit(f"finbridge serve did not become ready (see {data / 'serve.log'})")


def _pct(xs: list[float], q: float) -> float:
    return statistics.quantiles(xs, n=100, method="inclusive")[q - 1] if len(xs) > 1 else xs[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--customers", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--postings", type=int, default=120)
    parser.add_argument("--port", type=int, default=8798)
    parser.add_argument(
        "--think", type=float, default=0.0,
        help="mean seconds a customer reads a page before the next (0: back to back)",
    )  # fmt: skip
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="finbridge-app-bench-"))
    url = _database(args.db, data)
    seeded = time.perf_counter()
    people = seed(url, data, args.customers, args.postings)
    print(f"seeded {len(people)} customers in {time.perf_counter() - seeded:.1f} s")
    costs = count_per_page(url, data, *people[0])
    proc = _serve(url, data, args.port)
    try:
        base = f"http://127.0.0.1:{args.port}"
        times: dict[str, list[float]] = {
            "home": [], "transactions": [], "home, warm": [], "transactions, warm": []
        }  # fmt: skip
        load_before = os.getloadavg()
        cpu_before = _cpu_seconds(proc.pid)

        async def run() -> None:
            await asyncio.gather(
                *(
                    _customer(base, phone, acc, args.rounds, times, args.think)
                    for phone, acc in people
                )
            )

        started = time.perf_counter()
        asyncio.run(run())
        wall = time.perf_counter() - started
        load_after = os.getloadavg()
        server_cpu = _cpu_seconds(proc.pid) - cpu_before
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    total = len(times["home"]) + len(times["transactions"])
    print(
        f"# app pages {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
        f"db {args.db}, {args.customers} concurrent customers x {args.rounds} rounds, "
        f"{args.postings} postings each, think {args.think} s, "
        f"load {load_before} -> {load_after}"
    )
    for name, xs in times.items():
        if not xs:
            continue
        cost = (
            f"{costs[name]} per page"
            if name in costs
            else f"from round {WARM_ROUNDS + 1}: the server's start-up left out"
        )
        print(
            f"{name:19} n={len(xs)} p50 {_pct(xs, 50):.0f} ms  p95 {_pct(xs, 95):.0f} ms  "
            f"p99 {_pct(xs, 99):.0f} ms  max {max(xs):.0f} ms  ({cost})"
        )
    print(f"throughput {total / wall:.1f} pages/s over {wall:.1f} s")
    print(
        f"server CPU {server_cpu:.1f} s over the run: {server_cpu / total * 1000:.1f} ms per page "
        "(both pages, sign-ins included)"
    )


if __name__ == "__main__":
    main()

"""Merchant payments through the API, 8 concurrent clients, on SQLite and PostgreSQL, beside the
plain ledger transfer through the same API in the same run.

The server is ``finbridge serve`` in its own process (uvicorn, the real platform: the posting
guard is risk's decision maker behind identity's step-up, warmed before it binds). The clients
are threads of this process, each with a keep-alive ``httpx`` client, authenticated by a teller's
API key (a teller may pay and transfer for a customer; the guard still decides every posting).
Each phase runs for ``--seconds``:

* ``POST /v1/payments/pay``: a static merchant code, a random customer, 1.00-9.99 CNY: the code's
  signature is checked, the daily limit reserved, one three-leg journal entry (payer, merchant
  net of fee, fee income) posted, the payment recorded with its event;
* ``POST /v1/transfers``: a random customer to another, same amounts: the plain ledger transfer.

    .venv/bin/python benchmarks/payments_api.py [--seconds 10] [--clients 8] [--customers 400]
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
PG_DB = "finbridge_payments_bench"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_url() -> str:
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {PG_DB}"))
    admin.dispose()
    return PG_ADMIN.rsplit("/", 1)[0] + f"/{PG_DB}"


def _seed(env: dict[str, str], customers: int) -> dict[str, object]:
    from finbridge.core import Money, Principal, Role, Settings
    from finbridge.platform import Platform, upgrade_database

    settings = Settings(
        env="development", data_dir=Path(env["FINBRIDGE_DATA_DIR"]),
        database_url=env.get("FINBRIDGE_DATABASE_URL"),
    )  # fmt: skip
    platform = Platform.build(settings)
    upgrade_database(platform)
    system = Principal.system("bench")
    bank = platform.banking
    accounts = []
    for i in range(customers):
        cid = bank.create_customer(system, kind="personal", display_name=f"Bench {i}").id
        acc = bank.open_account(system, cid, kind="current", currency_code="CNY").id
        bank.deposit(system, acc, Money.of("100000", "CNY"), idempotency_key=f"seed-{acc}")
        accounts.append(acc)
    shop = bank.create_customer(system, kind="corporate", display_name="Bench Shop").id
    settle = bank.open_account(system, shop, kind="current", currency_code="CNY").id
    merchant = platform.payments.merchants.onboard(
        system, name="Bench Shop", mcc="5411", settlement_account_id=settle, fee_rate="0.006"
    )
    code = platform.payments.merchants.create_code(system, merchant.id)
    key = platform.api_keys.issue("bench teller", [Role.TELLER]).plaintext
    platform.close()
    return {"accounts": accounts, "code": code.payload, "key": key}


def _serve(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "finbridge.cli.main", "serve", "--host", "127.0.0.1",
           "--port", str(port)]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise RuntimeError(proc.stderr.read().decode() if proc.stderr else "server died")
        time.sleep(0.25)
    raise RuntimeError("the server did not become ready")


def _phase(
    base: str, seed: dict[str, object], kind: str, clients: int, seconds: float
) -> dict[str, float]:
    accounts: list[str] = seed["accounts"]  # type: ignore[assignment]
    headers = {"Authorization": f"Bearer {seed['key']}"}
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client(n: int) -> None:
        rnd = random.Random(n)
        own_lat: list[float] = []
        own_status: dict[int, int] = {}
        with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
            while time.monotonic() < stop:
                amount = f"{rnd.randint(1, 9)}.{rnd.randint(0, 99):02d}"
                src = rnd.choice(accounts)
                if kind == "pay":
                    body = {"code": seed["code"], "from_account_id": src, "amount": amount,
                            "currency": "CNY"}  # fmt: skip
                    url = "/v1/payments/pay"
                else:
                    dst = rnd.choice([a for a in accounts[:50] if a != src])
                    body = {"from_account_id": src, "to_account_id": dst, "amount": amount,
                            "currency": "CNY"}  # fmt: skip
                    url = "/v1/transfers"
                t0 = time.perf_counter()
                r = http.post(url, json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
                own_lat.append(time.perf_counter() - t0)
                own_status[r.status_code] = own_status.get(r.status_code, 0) + 1
        with lock:
            latencies.extend(own_lat)
            for k, v in own_status.items():
                statuses[k] = statuses.get(k, 0) + v

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    ok = statuses.get(201, 0)
    # Inclusive quantiles are defined from two samples on (a slow, loaded run may have few).
    q = (statistics.quantiles(latencies, n=100, method="inclusive") if len(latencies) > 1
         else [float("nan")] * 99)  # fmt: skip
    return {"ok_per_s": ok / elapsed, "ok": ok, "total": len(latencies),
            "p50_ms": q[49] * 1000, "p99_ms": q[98] * 1000,
            "statuses": statuses}  # type: ignore[dict-item]  # fmt: skip


def run(backend: str, args: argparse.Namespace) -> None:
    data = tempfile.mkdtemp(prefix=f"fb-paybench-{backend}-")
    # The API's per-principal rate limit (1,200/minute) would cap one teller key long before
    # the server: this measures the server, so the limiter is off in its process.
    env = {**os.environ, "FINBRIDGE_DATA_DIR": data, "FINBRIDGE_ENV": "development",
           "FINBRIDGE_RATE_LIMITS__ENABLED": "false"}  # fmt: skip
    if backend == "postgresql":
        env["FINBRIDGE_DATABASE_URL"] = _pg_url()
    seed = _seed(env, args.customers)
    port = _port()
    proc = _serve(env, port)
    base = f"http://127.0.0.1:{port}"
    try:
        _phase(base, seed, "pay", args.clients, 2)  # warm-up: both paths, every connection
        _phase(base, seed, "transfer", args.clients, 2)
        for kind in ("pay", "transfer"):
            r = _phase(base, seed, kind, args.clients, args.seconds)
            label = "merchant payment" if kind == "pay" else "ledger transfer"
            print(f"{backend:10} {label:17} {r['ok_per_s']:8.1f}/s ok  p50 {r['p50_ms']:6.1f} ms"
                  f"  p99 {r['p99_ms']:7.1f} ms  statuses {r['statuses']}")  # fmt: skip
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--customers", type=int, default=400)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    print(f"{args.clients} clients, {args.seconds:.0f} s per phase, load {os.getloadavg()}")
    for backend in ("sqlite", "postgresql") if args.backend == "both" else (args.backend,):
        run(backend, args)


if __name__ == "__main__":
    main()

"""Start-up costs: `finbridge --help`, `finbridge serve` until `/ready`, and the first postings.

Targets (issue 10): `--help` under 2 s, `serve` ready under 10 s, and the first transfer after
`/ready` as fast as the second. Runs each command as a user would (a fresh process, bytecode
compilation as the environment has it: this workplace sets PYTHONDONTWRITEBYTECODE=1).

    .venv/bin/python benchmarks/startup.py [--runs 5] [--port 8797]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
FINBRIDGE = str(ROOT / ".venv/bin/finbridge")


def time_help(runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([FINBRIDGE, "--help"], capture_output=True, check=True)
        times.append(time.perf_counter() - started)
    return times


def _env(data: Path) -> dict[str, str]:
    return {**os.environ, "FINBRIDGE_DATA_DIR": str(data), "COLUMNS": "200"}


def prepare(data: Path) -> str:
    """A migrated database and one admin API key."""
    env = _env(data)
    subprocess.run([FINBRIDGE, "db", "upgrade"], env=env, capture_output=True, check=True)
    out = subprocess.run(
        [FINBRIDGE, "apikeys", "create", "bench", "--role", "admin"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return next(word for word in out.split() if word.startswith("fbk_"))


def time_serve(data: Path, key: str, port: int) -> tuple[float, list[float]]:
    """Seconds from `finbridge serve` to `/ready` answering 200, then the first postings."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [FINBRIDGE, "serve", "--port", str(port)],
        env=_env(data),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=60) as client:
            while True:
                try:
                    if client.get("/ready").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if proc.poll() is not None:
                    raise RuntimeError("serve exited before it was ready")
                time.sleep(0.02)
            ready = time.perf_counter() - started
            headers = {"Authorization": f"Bearer {key}"}
            customer = client.post(
                "/v1/customers",
                json={"kind": "corporate", "display_name": "Bench Ltd"},
                headers=headers,
            ).json()["id"]
            accounts = [
                client.post(
                    "/v1/accounts",
                    json={"customer_id": customer, "kind": "current", "currency": "TWD"},
                    headers=headers,
                ).json()["id"]
                for _ in range(2)
            ]
            deposit = client.post(
                f"/v1/accounts/{accounts[0]}/deposits",
                json={"amount": "1000000.00", "currency": "TWD"},
                headers={**headers, "Idempotency-Key": "bench-deposit"},
            )
            deposit.raise_for_status()
            postings = []
            for i in range(5):
                t0 = time.perf_counter()
                response = client.post(
                    "/v1/transfers",
                    json={
                        "from_account_id": accounts[0],
                        "to_account_id": accounts[1],
                        "amount": "10.00",
                        "currency": "TWD",
                    },
                    headers={**headers, "Idempotency-Key": f"bench-{i}"},
                )
                response.raise_for_status()
                postings.append(time.perf_counter() - t0)
            return ready, postings
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--port", type=int, default=8797)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}")
    helps = time_help(args.runs)
    print(
        f"finbridge --help: median {statistics.median(helps):.2f} s, "
        f"max {max(helps):.2f} s over {args.runs} runs (target < 2 s)"
    )
    readies = []
    for run in range(args.runs):
        data = Path(tempfile.mkdtemp(prefix="finbridge-startup-"))
        try:
            key = prepare(data)
            ready, postings = time_serve(data, key, args.port + run)
        finally:
            shutil.rmtree(data, ignore_errors=True)  # each run's database, gone with it
        readies.append(ready)
        print(
            f"serve run {run + 1}: ready after {ready:.2f} s; first transfers (ms): "
            + ", ".join(f"{p * 1000:.0f}" for p in postings)
        )
    print(
        f"finbridge serve -> /ready: median {statistics.median(readies):.2f} s, "
        f"max {max(readies):.2f} s (target < 10 s)"
    )
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()

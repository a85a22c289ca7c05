"""How long `finbridge demo` takes on this machine, from an empty data directory.

Prints: seconds until the demo is seeded and serving (it prints "serving after" once the data
is loaded and the server listens; `/ready` is then checked), seconds until every seeding event
is in the Parquet lake (outbox empty), and the load average around the run.

    .venv/bin/python benchmarks/demo_startup.py [--limit N] [--port 8799]
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=None, help="seed only N clients")
    parser.add_argument("--port", type=int, default=8799)
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="finbridge-demo-bench-"))
    cmd = [str(ROOT / ".venv/bin/finbridge"), "demo", "--port", str(args.port)]
    if args.limit:
        cmd += ["--limit", str(args.limit)]
    print(f"load average before: {os.getloadavg()}")
    started = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        env={**os.environ, "FINBRIDGE_DATA_DIR": str(data)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("serving after"):
                break
        else:
            sys.exit("finbridge demo exited before serving")
        ready = time.perf_counter() - started
        # Keep reading what the demo prints so a full pipe never blocks it.
        threading.Thread(target=proc.stdout.read, daemon=True).start()
        status = httpx.get(f"http://127.0.0.1:{args.port}/ready", timeout=5).status_code
        print(f"demo seeded and serving after {ready:.1f} s (/ready {status})")
        db = sqlite3.connect(data / "finbridge.db")
        while db.execute("SELECT count(*) FROM lake_outbox WHERE published_at IS NULL").fetchone()[
            0
        ]:
            time.sleep(0.5)
        print(f"every seeding event in the lake after {time.perf_counter() - started:.1f} s")
        print(f"load average after: {os.getloadavg()}")
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)


if __name__ == "__main__":
    main()

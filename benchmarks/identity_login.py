"""Login timing with production argon2id parameters: wrong password vs unknown number vs success.

    .venv/bin/python benchmarks/identity_login.py [--rounds 10]

The unknown-number path verifies against a dummy hash with the same parameters, so its time
should match the wrong-password path (a ratio near 1.0); without the dummy it would be ~0.05.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from finbridge.core import ManualClock, Settings
from finbridge.core.errors import AuthenticationFailed
from finbridge.identity import IdentityConfig, IdentityServices, RegistrationRequest
from finbridge.platform import upgrade_database
from finbridge.store import make_engine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    clock = ManualClock(datetime(2026, 11, 25, tzinfo=UTC))
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(env="development", data_dir=Path(tmp))
        engine = make_engine(settings.resolved_database_url)
        upgrade_database(engine)
        config = IdentityConfig()  # production parameters: t=3, 64 MiB, p=4
        ids = IdentityServices.build(engine, clock, settings, config=config)
        req = RegistrationRequest("张三丰", "prc_resident_id", "110101199003074477", "13812345678")
        ids.persons.register(req, password="correct horse battery")

        def timed(phone: str, password: str) -> float:
            clock.advance(timedelta(hours=2))  # never locked
            start = time.perf_counter()
            with contextlib.suppress(AuthenticationFailed):
                ids.login.start(phone, password)
            return (time.perf_counter() - start) * 1000

        timed("13812345678", "warm up, wrong")
        wrong, unknown, ok = [], [], []
        for i in range(args.rounds):
            wrong.append(timed("13812345678", "wrong password!"))
            unknown.append(timed(f"130000{i:05d}", "wrong password!"))
            ok.append(timed("13812345678", "correct horse battery"))
        engine.dispose()
    med = statistics.median
    print(
        f"# identity login timing {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores,"
        f" load {os.getloadavg()}, argon2id t={config.argon2_time_cost} "
        f"m={config.argon2_memory_kib} KiB p={config.argon2_parallelism}, {args.rounds} rounds"
    )
    for label, xs in (("wrong password", wrong), ("unknown number", unknown)):
        print(f"{label:16} median {med(xs):.0f} ms (min {min(xs):.0f}, max {max(xs):.0f})")
    print(f"correct password median {med(ok):.0f} ms (includes opening a session and signing)")
    print(f"unknown / wrong ratio {med(unknown) / med(wrong):.2f}")


if __name__ == "__main__":
    main()

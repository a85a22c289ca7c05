"""A bounded schemathesis run against a real server, for CI (issue 11).

For each database (SQLite, and PostgreSQL when ``--pg-admin-url`` is given): a fresh database,
``finbridge db upgrade``, an admin API key, ``finbridge serve`` on a free port, then schemathesis
over every operation of ``/openapi.json`` with the examples, coverage and fuzzing phases, a fixed
seed and a time budget. It fails on any 5xx (``not_a_server_error``) and on any response that
breaks its own schema (``response_schema_conformance``, status codes and content types).

    .venv/bin/python scripts/fuzz_api.py --max-time 120 [--pg-admin-url postgresql+psycopg://...]

Rate limits are off for the run (the fuzzer would spend its budget on 429s); everything else is
the production code path. The seed makes a failing run reproducible.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
CHECKS = ",".join(
    (
        "not_a_server_error",
        "response_schema_conformance",
        "status_code_conformance",
        "content_type_conformance",
    )
)

REQUEST_TIMEOUT = 10  # seconds per request


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(cmd: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def _wait_ready(url: str, server: subprocess.Popen[bytes], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit("the server exited before it was ready")
        try:
            with urllib.request.urlopen(f"{url}/ready", timeout=2) as r:  # noqa: S310 - local
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    sys.exit("the server was not ready in time")


def _pg_database(admin_url: str) -> str:
    """A fresh database on the PostgreSQL server of ``admin_url``; returns its URL."""
    from sqlalchemy import create_engine, text

    name = f"finbridge_fuzz_{os.getpid()}"
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


def fuzz(label: str, database_url: str | None, args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix=f"fuzz-{label}-") as tmp:
        env = {
            **os.environ,
            "FINBRIDGE_ENV": "test",
            "FINBRIDGE_DATA_DIR": tmp,
            "FINBRIDGE_RATE_LIMITS__ENABLED": "false",
            "FINBRIDGE_IDENTITY__PASSWORD_HASHING": "fast",
            "FINBRIDGE_SERVE__RISK_WRITER_PROCESS": "false",
        }
        if database_url:
            env["FINBRIDGE_DATABASE_URL"] = database_url
        _run([str(BIN / "finbridge"), "db", "upgrade"], env)
        out = _run([str(BIN / "finbridge"), "apikeys", "create", "fuzz", "--role", "admin"], env)
        found = re.search(r"fbk_[A-Za-z0-9_\-]+", out)
        if found is None:
            sys.exit(f"no key in: {out}")
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        log = Path(tmp) / "server.log"
        with log.open("wb") as sink:
            server = subprocess.Popen(  # noqa: S603 - our own CLI
                [str(BIN / "finbridge"), "serve", "--port", str(port)],
                env=env,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
            try:
                _wait_ready(url, server)
                cmd = [
                    str(BIN / "schemathesis"), "run", f"{url}/openapi.json",
                    "--phases", "examples,coverage,fuzzing",
                    "--checks", CHECKS,
                    "--seed", str(args.seed),
                    "--max-time", str(args.max_time),
                    "--max-examples", str(args.max_examples),
                    "--workers", "1",
                    # Explicit: a read slower than this is a finding, not a wait.
                    "--request-timeout", str(REQUEST_TIMEOUT),
                    "--header", f"Authorization: Bearer {found.group()}",
                    "--suppress-health-check", "all",
                    "--include-path-regex", "^/(v1/|health$|ready$)",
                ]  # fmt: skip
                print(f"== schemathesis on {label}: {' '.join(cmd[:3])} ...", flush=True)
                code = subprocess.run(cmd, env=env, check=False).returncode  # noqa: S603
            finally:
                server.terminate()
                server.wait(timeout=30)
        if code != 0:
            print(log.read_text()[-5000:], file=sys.stderr)
        return code


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-time", type=int, default=120, help="seconds per database")
    parser.add_argument("--max-examples", type=int, default=20)
    parser.add_argument("--seed", type=int, default=20261206)
    parser.add_argument("--pg-admin-url", default=None)
    args = parser.parse_args()
    codes = [fuzz("sqlite", None, args)]
    if args.pg_admin_url:
        codes.append(fuzz("postgresql", _pg_database(args.pg_admin_url), args))
    return max(codes)


if __name__ == "__main__":
    sys.exit(main())

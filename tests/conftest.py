"""Shared fixtures: real SQLite and real PostgreSQL databases, migrated with Alembic.

``engine`` is parametrized over both backends; a test that only makes sense on one asks for
``sqlite_engine`` or ``pg_engine``. Each test gets an empty, fully migrated database.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from tests.nats_support import NatsServer
from tests.settings_support import test_settings

from finbridge.core import ManualClock, Settings
from finbridge.platform import load_tables, upgrade_database
from finbridge.store import make_engine

# The CLI's Rich consoles are built once, when the CLI is first imported, and size themselves
# from COLUMNS then: test output is never a terminal, so give every test process a wide one
# before any test imports the CLI (else tables are cut at 80 columns, depending on test order).
os.environ.setdefault("COLUMNS", "200")
os.environ.setdefault("LINES", "50")

PG_ADMIN_URL = os.environ.get(
    "FINBRIDGE_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade_database(engine)
    engine.dispose()
    return path


@pytest.fixture
def sqlite_engine(_sqlite_template: Path, tmp_path: Path) -> Iterator[Engine]:
    path = tmp_path / "finbridge.db"
    shutil.copyfile(_sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def _pg_database_url() -> Iterator[str]:
    # The pid keeps concurrent runs on one machine out of each other's way.
    name = f"finbridge_test_{_worker()}_{os.getpid()}"
    admin = make_engine(PG_ADMIN_URL).execution_options(isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # pragma: no cover - only when the server is down
        pytest.fail(f"PostgreSQL is required for the test suite and is not reachable: {exc}")
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    engine = make_engine(url)
    upgrade_database(engine)
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def pg_engine(_pg_database_url: str) -> Iterator[Engine]:
    engine = make_engine(_pg_database_url)
    yield engine
    engine.dispose()
    _truncate_all(_pg_database_url)


def _truncate_all(url: str) -> None:
    metadata = load_tables()
    names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    if not names:
        return
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest) -> Engine:
    """An empty migrated database on each backend in turn."""
    name = "sqlite_engine" if request.param == "sqlite" else "pg_engine"
    return request.getfixturevalue(name)  # type: ignore[no-any-return]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 11, 2, 1, 30, tzinfo=UTC))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return test_settings(tmp_path / "data")


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    """A fresh ``nats-server -js`` of this test's own (port and store), stopped after it."""
    server = NatsServer(tmp_path / "nats").start()
    yield server
    server.stop()

"""SQLite commits are durable: every connection the platform opens, the posting path's own
detached connection included, runs WAL with ``synchronous=FULL`` (NORMAL may lose acknowledged
transfers to a power loss), foreign keys on, the busy timeout, and temporary storage (a batch's
statement journal) in memory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from finbridge.banking.ledger._connections import posting_connections
from finbridge.platform import upgrade_database
from finbridge.store import make_engine
from finbridge.store.engine import SQLITE_BUSY_TIMEOUT_MS

_FULL = 2  # PRAGMA synchronous: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA
_MEMORY = 2  # PRAGMA temp_store: 0 DEFAULT, 1 FILE, 2 MEMORY


def _settings(driver: Any) -> tuple[Any, ...]:
    return tuple(
        driver.execute(f"PRAGMA {name}").fetchone()[0]
        for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout", "temp_store")
    )


def test_every_connection_commits_durably(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'bank.db'}")
    try:
        upgrade_database(engine)
        expected = ("wal", _FULL, 1, SQLITE_BUSY_TIMEOUT_MS, _MEMORY)
        with engine.connect() as conn:  # a pooled connection
            assert _settings(conn.connection.driver_connection) == expected
        # The posting path's connection leaves the pool for good; its pragmas came with it.
        assert _settings(posting_connections(engine).connection()) == expected
    finally:
        engine.dispose()

"""Persistence: engine and unit-of-work factory, shared metadata, Alembic migrations."""

from finbridge.store.engine import (
    SQLITE_PRAGMAS,
    is_sqlite,
    make_engine,
    read_connection,
    unit_of_work,
    write_connection,
)
from finbridge.store.metadata import Base
from finbridge.store.migrate import current_heads, upgrade

__all__ = [
    "SQLITE_PRAGMAS",
    "Base",
    "current_heads",
    "is_sqlite",
    "make_engine",
    "read_connection",
    "unit_of_work",
    "upgrade",
    "write_connection",
]

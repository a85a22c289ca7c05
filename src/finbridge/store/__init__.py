"""Persistence: engine and unit-of-work factory, shared metadata, Alembic migrations."""

from finbridge.store.engine import (
    is_sqlite,
    make_engine,
    read_connection,
    unit_of_work,
    write_connection,
)
from finbridge.store.metadata import Base
from finbridge.store.migrate import current_heads, upgrade

__all__ = [
    "Base",
    "current_heads",
    "is_sqlite",
    "make_engine",
    "read_connection",
    "unit_of_work",
    "upgrade",
    "write_connection",
]

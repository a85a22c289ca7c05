"""Alembic run on a test's database: take one branch back to a revision, then forward again."""

from __future__ import annotations

from sqlalchemy import Engine

from finbridge.platform import load_tables, migration_locations
from finbridge.store.migrate import alembic_config


def alembic(engine: Engine, verb: str, revision: str) -> None:
    """``alembic <verb> <revision>`` (``upgrade`` / ``downgrade``) on ``engine``'s database."""
    from alembic import command

    getattr(command, verb)(alembic_config(engine, migration_locations(), load_tables()), revision)

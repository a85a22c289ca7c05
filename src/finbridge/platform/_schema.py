"""The database schema, listed: each package's tables and Alembic migrations.

``store`` knows no engine: it runs whatever version locations and table modules it is given.
This list is the one place that names them; a new engine adds its line here.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from sqlalchemy import Engine, MetaData

from finbridge.platform._root import Platform
from finbridge.store.metadata import Base
from finbridge.store.migrate import current_heads, upgrade

# Order is only for reading: each package owns an Alembic branch, and "heads" upgrades them all.
SCHEMA_PACKAGES: tuple[str, ...] = (
    "banking",
    "lake",
    "lake.monitoring",  # model monitors: a branch of their own beside the lake's (issue 19)
    "identity",
    "credit",
    "risk",
    "quant",
    "advisory",
    "payments",
    "lending",
    "acquisition",
    "openbanking",
)

TABLE_MODULES: tuple[str, ...] = tuple(f"finbridge.{name}.tables" for name in SCHEMA_PACKAGES)


def migration_locations() -> list[Path]:
    """Each package's ``migrations`` folder (a package of Alembic revision files)."""
    locations = []
    for name in SCHEMA_PACKAGES:
        module = importlib.import_module(f"finbridge.{name}.migrations")
        locations.append(Path(module.__path__[0]))
    return locations


def load_tables() -> MetaData:
    """Import every package's table module; the shared metadata then holds the whole schema."""
    for module in TABLE_MODULES:
        importlib.import_module(module)
    return Base.metadata


def upgrade_database(target: Engine | Platform) -> None:
    """Bring the database (of an engine, or of a platform) to every package's newest schema."""
    engine = target.engine if isinstance(target, Platform) else target
    upgrade(engine, migration_locations(), load_tables())


def schema_heads(engine: Engine) -> set[str]:
    return current_heads(engine)

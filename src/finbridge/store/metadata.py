"""The shared SQLAlchemy metadata every package's tables register on.

Each package keeps its tables in ``finbridge.<package>.tables``; :func:`load_all_tables`
imports them so Alembic and test fixtures see the whole schema without a hand-kept list.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

from sqlalchemy import BigInteger, MetaData
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base bound to the shared, convention-named metadata."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {int: BigInteger}


def load_all_tables() -> MetaData:
    """Import every ``finbridge.<package>.tables`` module and return the populated metadata."""
    import finbridge

    for info in pkgutil.iter_modules(finbridge.__path__):
        package_dir = Path(finbridge.__path__[0]) / info.name
        # Look before importing: importing a package without tables (api, web, cli) would run its
        # __init__ and drag web frameworks into every migration run.
        if info.ispkg and (
            (package_dir / "tables.py").exists() or (package_dir / "tables").is_dir()
        ):
            importlib.import_module(f"finbridge.{info.name}.tables")
    return Base.metadata

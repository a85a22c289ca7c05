"""The shared SQLAlchemy metadata every package's tables register on.

Each package keeps its tables in ``finbridge.<package>.tables``; the composition root
(``finbridge.platform``) lists and imports them, so Alembic and test fixtures see the whole
schema. ``store`` itself knows no engine package.
"""

from __future__ import annotations

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

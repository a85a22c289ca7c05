"""Alembic, driven from Python: ``upgrade`` brings a database to the newest schema.

``store`` knows no engine package: the composition root hands over the version locations (one
folder per package, each package an Alembic branch with ``branch_labels``) and the metadata.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, MetaData

if TYPE_CHECKING:
    from alembic.config import Config

SCRIPT_DIR = Path(__file__).parent / "migrations"


def alembic_config(engine: Engine, version_locations: Sequence[Path], metadata: MetaData) -> Config:
    # Alembic is imported here, not at module level: only migrations need it, and every CLI
    # start would otherwise pay for it.
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPT_DIR))
    # Alembic splits this option on the separator it is told; paths never contain a newline.
    cfg.set_main_option("path_separator", "newline")
    cfg.set_main_option("version_locations", "\n".join(str(p) for p in version_locations))
    cfg.attributes["engine"] = engine
    cfg.attributes["metadata"] = metadata
    return cfg


def upgrade(
    engine: Engine,
    version_locations: Sequence[Path],
    metadata: MetaData,
    revision: str = "heads",
) -> None:
    """Apply every pending migration of every branch found in ``version_locations``."""
    from alembic import command

    command.upgrade(alembic_config(engine, version_locations, metadata), revision)


def current_heads(engine: Engine) -> set[str]:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())

"""The composition root: :class:`Platform` with typed engine faces, and the listed schema."""

from finbridge.platform._learning import (
    monitor_replay,
    monitor_store,
    retrain_fraud_model,
    run_monitors,
)
from finbridge.platform._root import Platform
from finbridge.platform._schema import (
    SCHEMA_PACKAGES,
    TABLE_MODULES,
    load_tables,
    migration_locations,
    schema_heads,
    upgrade_database,
)

__all__ = [
    "SCHEMA_PACKAGES",
    "TABLE_MODULES",
    "Platform",
    "load_tables",
    "migration_locations",
    "monitor_replay",
    "monitor_store",
    "retrain_fraud_model",
    "run_monitors",
    "schema_heads",
    "upgrade_database",
]

"""Migrations bring both backends to the same schema the models describe."""

from sqlalchemy import Engine, inspect

from finbridge.platform import load_tables, migration_locations
from finbridge.store import current_heads
from finbridge.store.migrate import alembic_config


def test_every_branch_is_at_its_head(engine: Engine) -> None:
    from alembic.script import ScriptDirectory

    config = alembic_config(engine, migration_locations(), load_tables())
    assert current_heads(engine) == set(ScriptDirectory.from_config(config).get_heads())


def test_every_package_owns_its_migrations() -> None:
    # store knows no engine: each branch lives in its own package's migrations folder.
    names = {path.parent.name for path in migration_locations()}
    assert names == {
        "banking", "lake", "identity", "credit", "risk", "quant", "advisory", "lending",
        "acquisition", "openbanking", "payments", "monitoring",
    }  # fmt: skip


def test_migrated_schema_has_every_model_table(engine: Engine) -> None:
    tables = set(inspect(engine).get_table_names())
    expected = {t.name for t in load_tables().sorted_tables}
    assert expected <= tables, f"tables missing after migration: {expected - tables}"


def test_migrated_columns_match_models(engine: Engine) -> None:
    inspector = inspect(engine)
    for table in load_tables().sorted_tables:
        columns = {c["name"] for c in inspector.get_columns(table.name)}
        assert {c.name for c in table.columns} == columns, table.name

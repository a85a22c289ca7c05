"""Migrations bring both backends to the same schema the models describe."""

from sqlalchemy import Engine, inspect

from finbridge.store import current_heads, load_all_tables
from finbridge.store.migrate import alembic_config


def test_every_branch_is_at_its_head(engine: Engine) -> None:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config(engine))
    assert current_heads(engine) == set(script.get_heads())


def test_migrated_schema_has_every_model_table(engine: Engine) -> None:
    tables = set(inspect(engine).get_table_names())
    expected = {t.name for t in load_all_tables().sorted_tables}
    assert expected <= tables, f"tables missing after migration: {expected - tables}"


def test_migrated_columns_match_models(engine: Engine) -> None:
    inspector = inspect(engine)
    for table in load_all_tables().sorted_tables:
        columns = {c["name"] for c in inspector.get_columns(table.name)}
        assert {c.name for c in table.columns} == columns, table.name

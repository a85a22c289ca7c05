"""``finbridge db``: schema migrations."""

from __future__ import annotations

import typer

from finbridge.cli.context import console, platform_context


def register(app: typer.Typer) -> None:
    db = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)

    @db.command("upgrade")
    def upgrade_cmd() -> None:
        """Apply every pending migration (SQLite default; PostgreSQL via FINBRIDGE_DATABASE_URL)."""
        from finbridge.platform import schema_heads, upgrade_database

        with platform_context() as platform:
            upgrade_database(platform)
            heads = sorted(schema_heads(platform.engine))
            console.print(
                f"[green]schema up to date[/] on {platform.engine.dialect.name}: {', '.join(heads)}"
            )

    app.add_typer(db, name="db")

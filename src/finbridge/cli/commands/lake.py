"""``finbridge lake``: the event table's upkeep (migrate, optimize, vacuum, history, quality)."""

from __future__ import annotations

import typer
from rich.table import Table

from finbridge.cli.context import cli_settings, console, platform_context
from finbridge.core.principal import Principal

CLI_ACTOR = Principal.system("cli")


def register(app: typer.Typer) -> None:
    lake = typer.Typer(
        help="The event lake's Delta table: migrate, optimize, vacuum, history, quarantine.",
        no_args_is_help=True,
    )

    @lake.command("migrate")
    def migrate_cmd(
        remove_legacy: bool = typer.Option(
            False, "--remove-legacy", help="Delete the old Parquet files once moved."
        ),
    ) -> None:
        """Move a lake in the old Parquet layout to Delta (safe to run again)."""
        from finbridge.lake import migrate_legacy

        result = migrate_legacy(cli_settings().resolved_lake_dir, remove_legacy=remove_legacy)
        console.print(
            f"[green]{result.status}[/]: {result.events} event(s) from {result.files} file(s);"
            f" table version {result.version}"
        )
        if result.legacy_dir is not None:
            console.print(f"[dim]old files kept in {result.legacy_dir}[/]")

    @lake.command("optimize")
    def optimize_cmd() -> None:
        """Compact small files into large ones (a new version; time travel still works)."""
        with platform_context() as platform:
            metrics = platform.events.optimize(CLI_ACTOR)
        console.print(
            f"[green]compacted[/] {metrics.get('numFilesRemoved', 0)} file(s)"
            f" into {metrics.get('numFilesAdded', 0)}"
        )

    @lake.command("vacuum")
    def vacuum_cmd(
        retain_days: int = typer.Option(7, "--retain-days", min=7, help="Keep this much history."),
        dry_run: bool = typer.Option(False, "--dry-run", help="List, delete nothing."),
    ) -> None:
        """Delete files no version inside the retention needs (time travel ends there)."""
        with platform_context() as platform:
            removed = platform.events.vacuum(CLI_ACTOR, retain_days=retain_days, dry_run=dry_run)
        verb = "would delete" if dry_run else "deleted"
        console.print(f"[green]{verb}[/] {len(removed)} file(s)")

    @lake.command("history")
    def history_cmd(limit: int = typer.Option(20, "--limit", "-n", min=1, max=1000)) -> None:
        """The table's versions, newest first."""
        with platform_context() as platform:
            commits = platform.events.history(CLI_ACTOR, limit=limit)
        table = Table("version", "committed", "operation", "batch", "rows")
        for c in commits:
            table.add_row(
                str(c.version),
                c.timestamp.isoformat(timespec="seconds"),
                c.operation,
                c.batch or "",
                "" if c.rows is None else str(c.rows),
            )
        console.print(table)

    @lake.command("batches")
    def batches_cmd(limit: int = typer.Option(20, "--limit", "-n", min=1, max=500)) -> None:
        """Recent batches: passed, quarantined (with reasons), released or discarded."""
        with platform_context() as platform:
            records = platform.events.batches(CLI_ACTOR, limit=limit)
        table = Table("at", "batch", "events", "status", "reasons")
        for r in records:
            table.add_row(
                r.at.isoformat(timespec="seconds"),
                r.batch_id,
                str(r.events),
                r.status,
                "; ".join(r.reasons),
            )
        console.print(table)

    @lake.command("release")
    def release_cmd(batch_id: str, note: str = typer.Option("", "--note")) -> None:
        """Write a quarantined batch to the lake as it is (recorded)."""
        with platform_context() as platform:
            record = platform.events.release(CLI_ACTOR, batch_id, note=note)
        console.print(f"[green]{record.status}[/] {record.batch_id}")

    @lake.command("discard")
    def discard_cmd(batch_id: str, note: str = typer.Option(..., "--note")) -> None:
        """Mark a quarantined batch discarded (its rows stay in the quarantine; recorded)."""
        with platform_context() as platform:
            record = platform.events.discard(CLI_ACTOR, batch_id, note=note)
        console.print(f"[yellow]{record.status}[/] {record.batch_id}")

    app.add_typer(lake, name="lake")

"""``finbridge features``: the feature store's views, materialisations and online values."""

from __future__ import annotations

from datetime import UTC, datetime

import typer
from rich.table import Table

from finbridge.cli.context import console, platform_context
from finbridge.core.errors import ValidationError
from finbridge.core.principal import Principal

CLI_ACTOR = Principal.system("cli")


def _instant(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError(f"{value!r} is not an ISO date or instant", field="until") from None
    if parsed.tzinfo is None:
        if "T" in value or " " in value:
            raise ValidationError("give the instant a UTC offset, e.g. +08:00 or Z", field="until")
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def register(app: typer.Typer) -> None:
    features = typer.Typer(
        help="The feature store: views, materialisation, online values.", no_args_is_help=True
    )

    @features.command("list")
    def list_cmd() -> None:
        """Feature views with their last materialisation and freshness."""
        with platform_context() as platform:
            rows = platform.features.status(CLI_ACTOR)
        table = Table("view", "owner", "entity", "features", "ttl", "rows", "last event", "fresh")
        for s in rows:
            last = s.last
            table.add_row(
                s.view.ref,
                s.view.owner,
                s.view.entity,
                str(len(s.view.features)),
                str(s.view.ttl),
                f"{last.rows:,}" if last else "-",
                last.last_event.isoformat() if last and last.last_event else "never",
                str(s.freshness).split(".")[0] if s.freshness is not None else "-",
            )
        console.print(table)

    @features.command("materialize")
    def materialize_cmd(
        view: str = typer.Argument(..., help="A lake view, e.g. card_spend."),
        until: str | None = typer.Option(None, "--until", help="ISO instant (default: now)."),
    ) -> None:
        """Compute a view from the lake's events and keep its snapshot (and online values)."""
        with platform_context() as platform:
            done = platform.features.materialize(CLI_ACTOR, view, until=_instant(until))
        console.print(
            f"[green]{done.view} v{done.version}[/]: {done.rows:,} rows, {done.entities:,} "
            f"entities, events up to {done.until.isoformat()}, online {done.online_rows:,} "
            f"({done.seconds:.1f} s)"
        )

    @features.command("get")
    def get_cmd(
        view: str = typer.Argument(...),
        entity_ids: list[str] = typer.Argument(..., help="One or more entity ids."),
    ) -> None:
        """The online values of a view for some entities (as of its last materialisation)."""
        with platform_context() as platform:
            rows = platform.features.online(CLI_ACTOR, view, entity_ids)
        names = list(next(r for r in rows if r is not None))
        table = Table("entity", *names)
        for entity, row in zip(entity_ids, rows, strict=True):
            table.add_row(entity, *[str((row or {}).get(n)) for n in names])
        console.print(table)

    app.add_typer(features, name="features")

"""``finbridge events``: ingest partner files, query the lake, drain the outbox."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from finbridge.cli.context import console, platform_context
from finbridge.core.errors import ValidationError
from finbridge.core.principal import Principal

if TYPE_CHECKING:
    from finbridge.lake import IngestReport

CLI_ACTOR = Principal.system("cli")
MAX_SHOWN_REJECTIONS = 50


def _bar(verb: str) -> Progress:
    return Progress(
        TextColumn(f"{verb} {{task.description}}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def _parse_since(value: str | None, field: str = "since") -> datetime | None:
    """``2026-11-01`` (midnight UTC) or an ISO instant with an offset."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError(f"{value!r} is not an ISO date or datetime", field=field) from None
    if parsed.tzinfo is None:
        if "T" in value or " " in value:
            raise ValidationError("give the instant a UTC offset, e.g. +08:00 or Z", field=field)
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def print_report(report: IngestReport) -> None:
    table = Table(title=f"ingestion {report.id}", show_header=False)
    table.add_row("file", f"{report.filename or '-'} ({report.format}, {report.size_bytes} bytes)")
    table.add_row("source", report.source)
    table.add_row("sha-256", report.file_hash)
    table.add_row("rows", str(report.total))
    table.add_row("accepted", f"[green]{report.accepted}[/]")
    table.add_row("rejected", f"[red]{report.rejected}[/]" if report.rejected else "0")
    if report.replayed:
        table.add_row("note", "[yellow]file seen before: nothing new written[/]")
    if report.quarantined:
        reasons = "; ".join(report.quarantined)
        table.add_row("quarantined", f"[red]{reasons}[/] (finbridge lake batches)")
    console.print(table)
    if report.rejections:
        rej = Table("row", "field", "reason", "row id", title="rejections")
        for r in report.rejections[:MAX_SHOWN_REJECTIONS]:
            rej.add_row(str(r.row), r.field, r.reason, r.row_id or "")
        console.print(rej)
        hidden = len(report.rejections) - MAX_SHOWN_REJECTIONS
        if hidden > 0:
            console.print(f"… and {hidden} more (GET /v1/events/ingestions/{report.id})")


def _print_rows(rows: list[dict[str, Any]], wrap: tuple[str, ...] = ("payload",)) -> None:
    """A Rich table; the ``wrap`` columns fold onto several lines, the others stay whole."""
    if not rows:
        console.print("[dim]no rows[/]")
        return
    table = Table()
    for name in rows[0]:
        table.add_column(name, no_wrap=name not in wrap, overflow="fold")
    for row in rows:
        table.add_row(*(_cell(v) for v in row.values()))
    console.print(table)
    console.print(f"[dim]{len(rows)} row(s)[/]")


def _cell(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):  # payloads: readable key=value pairs, nulls left out
        return " ".join(
            f"{k}={json.dumps(v) if isinstance(v, (dict, list)) else v}"
            for k, v in value.items()
            if v is not None
        )
    return "" if value is None else str(value)


def register(app: typer.Typer) -> None:
    events = typer.Typer(help="The event lake: ingest, query, relay.", no_args_is_help=True)

    @events.command("ingest")
    def ingest_cmd(
        file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True),
        source: str = typer.Option("partner", "--source", "-s", help="Who sent the file."),
        fmt: str | None = typer.Option(
            None, "--format", "-f", help="jsonl or parquet (default: from the file name)."
        ),
    ) -> None:
        """Validate a partner file and store its good rows; prints the rejection report."""
        with platform_context() as platform:
            with _bar("validating") as progress:
                task = progress.add_task(file.name, total=None)

                def advance(done: int, total: int) -> None:
                    progress.update(task, completed=done, total=total)

                report = platform.events.ingest(
                    CLI_ACTOR, file, fmt=fmt, source=source, progress=advance
                )
        print_report(report)

    @events.command("query")
    def query_cmd(
        sql: str | None = typer.Argument(
            None, help="A SELECT over the view `events` (omit to use the filters)."
        ),
        event_type: str | None = typer.Option(None, "--type", "-t"),
        subject: str | None = typer.Option(None, "--subject"),
        since: str | None = typer.Option(None, "--since", help="ISO date or instant."),
        limit: int = typer.Option(20, "--limit", "-n", min=1, max=10_000),
        as_of_version: int | None = typer.Option(
            None, "--as-of-version", min=0, help="SQL over the lake as it was at this version."
        ),
        as_of: str | None = typer.Option(
            None, "--as-of", help="SQL over the lake as it was at this ISO instant."
        ),
    ) -> None:
        """Query the lake with SQL, or list the latest events matching the filters."""
        with platform_context() as platform:
            if sql:
                rows = platform.events.query(
                    CLI_ACTOR,
                    sql,
                    as_of_version=as_of_version,
                    as_of=_parse_since(as_of, field="as_of"),
                )
            else:
                found = platform.events.list_events(
                    CLI_ACTOR,
                    event_type=event_type,
                    subject_id=subject,
                    since=_parse_since(since),
                    limit=limit,
                )
                rows = [
                    {
                        "occurred_at": e.occurred_at,
                        "event_type": e.event_type,
                        "subject_id": e.subject_id,
                        "payload": e.payload,
                    }
                    for e in found
                ]
        _print_rows(rows)

    @events.command("relay")
    def relay_cmd() -> None:
        """Publish every committed outbox event to the lake (to the event bus if configured)."""
        with platform_context() as platform:
            if platform.stream is not None:  # the lake-writer consumer feeds the lake then
                relayed = platform.stream.relay_now(CLI_ACTOR)
                console.print(
                    f"[green]published[/] {relayed.published} event(s) to the event bus, "
                    f"{relayed.refused} refused (kept in the outbox)"
                    + (f"; [yellow]{relayed.paused}[/]" if relayed.paused else "")
                )
                return
            service = platform.events
            with _bar("relaying") as progress:
                task = progress.add_task("outbox", total=service.pending(CLI_ACTOR))
                result = service.relay(
                    CLI_ACTOR, progress=lambda done: progress.update(task, completed=done)
                )
        console.print(
            f"[green]published[/] {result.published} event(s) in {result.batches} batch(es)"
        )

    @events.command("features")
    def features_cmd(
        as_of: str | None = typer.Option(
            None, "--as-of", help="ISO instant with offset (default: now); spend before it."
        ),
        customer: str | None = typer.Option(None, "--customer", help="Only this customer."),
        limit: int = typer.Option(20, "--limit", "-n", min=1, max=10_000),
    ) -> None:
        """Per-customer card spend over 1/7/30 days (the Ibis pipeline, run on DuckDB)."""
        with platform_context() as platform:
            instant = _parse_since(as_of, field="as_of") or platform.clock.now()
            rows = platform.events.spend_features(CLI_ACTOR, instant, customer_id=customer)
        console.print(f"[dim]as of {instant.isoformat()}[/]")
        _print_rows(
            [
                {
                    "customer": r["customer_id"],
                    "ccy": r["currency"],
                    "window": f"{d}d",
                    **{m: r[f"spend_{m}_{d}d"] for m in ("count", "sum", "avg", "max")},
                }
                for r in rows[:limit]
                for d in (1, 7, 30)
            ],
            wrap=("customer",),
        )

    events.add_typer(_stream_group(), name="stream")
    app.add_typer(events, name="events")


def _stream_group() -> typer.Typer:
    stream = typer.Typer(
        help="The event stream on NATS JetStream (FINBRIDGE_EVENT_BUS).", no_args_is_help=True
    )

    def no_bus() -> ValidationError:
        return ValidationError(
            "no event bus configured: set FINBRIDGE_EVENT_BUS=nats://host:4222", field="event_bus"
        )

    @stream.command("status")
    def status_cmd() -> None:
        """The stream, each durable consumer's lag, the outbox backlog and refused events."""
        with platform_context() as platform:
            if platform.stream is None:
                raise no_bus()
            st = platform.stream.status(CLI_ACTOR)
        _print_rows([{k: v for k, v in st.stream.items()}], wrap=())
        _print_rows(
            [
                {
                    "consumer": c.name,
                    "pending": c.pending,
                    "ack pending": c.ack_pending,
                    "redelivered": c.redelivered,
                    "state": "lagging" if c.behind > st.max_pending else "ok",
                }
                for c in st.consumers
            ],
            wrap=(),
        )
        console.print(f"outbox: {st.outbox_pending} waiting, {len(st.outbox_refused)} refused")
        for event_id, event_type, why in st.outbox_refused[:MAX_SHOWN_REJECTIONS]:
            console.print(f"  [red]refused[/] {event_id} {event_type}: {why}")

    @stream.command("replay")
    def replay_cmd(
        since: str = typer.Option(..., "--since", help="ISO date or instant with offset."),
        event_type: list[str] = typer.Option([], "--type", "-t", help="Only these types."),
        into: str | None = typer.Option(
            None, "--into", help="Hand the events to this durable consumer (applied once)."
        ),
    ) -> None:
        """Every event the stream stored since a time (by count), optionally into a consumer."""
        instant = _parse_since(since)
        assert instant is not None  # a required option
        with platform_context() as platform:
            if platform.stream is None:
                raise no_bus()
            result = platform.stream.replay(
                CLI_ACTOR, instant, event_types=event_type or None, into=into
            )
        _print_rows([{"event_type": t, "events": n} for t, n in result.counts().items()], wrap=())
        if into is not None:
            console.print(
                f"{into}: [green]applied[/] {result.applied}, already applied {result.skipped}"
            )

    @stream.command("consume")
    def consume_cmd(
        consumer: str = typer.Argument("lake-writer", help="The durable consumer to run."),
    ) -> None:
        """Run one durable consumer until nothing is pending (serve runs them all)."""
        with platform_context() as platform:
            if platform.stream is None:
                raise no_bus()
            result = platform.stream.consume(CLI_ACTOR, consumer)
        console.print(
            f"{consumer}: delivered {result.delivered}, [green]applied[/] {result.applied}, "
            f"already applied {result.skipped}"
        )

    return stream

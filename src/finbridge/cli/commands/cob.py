"""``finbridge cob``: close the bank's business days (in order, resumable) and show progress."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from finbridge.cli.context import console, platform_context
from finbridge.core.principal import Principal

CLI_ACTOR = Principal.system("cli")

cob_app = typer.Typer(help="Close of business: the bank's day.", no_args_is_help=True)


def _date(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter("a date as YYYY-MM-DD", param_hint="--until") from None


@cob_app.command("run")
def run(
    until: Annotated[
        str | None, typer.Option(help="Last business date to close (default: yesterday)")
    ] = None,
) -> None:
    """Close every business day up to UNTIL that is not closed yet, in order; a day a killed
    run left half-done is finished first."""
    last = _date(until)
    with platform_context() as platform:
        runner = platform.cob
        days = runner.plan(last)
        if not days:
            console.print("nothing to close: up to date")
            return
        steps = len(runner.steps)
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn())  # fmt: skip
        with Progress(*columns, console=console) as bar:
            all_days = bar.add_task("days", total=len(days))
            step_task = bar.add_task("steps", total=steps)

            def progress(day: date, step: str, index: int, total: int) -> None:
                done_days = (day - days[0]).days
                bar.update(all_days, completed=done_days, description=f"day {day}")
                bar.update(step_task, completed=index, description=step)

            closed = runner.run(CLI_ACTOR, until=last, progress=progress)
            bar.update(all_days, completed=len(closed))
        console.print(f"closed {len(closed)} day(s): {days[0]} .. {days[-1]}")


@cob_app.command("status")
def status(recent: Annotated[int, typer.Option(min=1, max=100)] = 5) -> None:
    """The last closed day, a day left running, how far behind, the recent days' steps."""
    with platform_context() as platform:
        st = platform.cob.status(CLI_ACTOR, recent=recent)
        console.print(f"last closed: {st.last_done or 'never'}")
        if st.running:
            console.print(f"[yellow]left running[/]: {st.running} (cob run finishes it)")
        console.print(f"days to close up to {st.due_until}: {st.behind}")
        table = Table(title="recent days")
        for col in ("date", "status", "steps done", "finished"):
            table.add_column(col)
        for day in st.recent:
            done = sum(1 for s in day.steps if s.status == "done")
            finished = day.finished_at.isoformat(timespec="seconds") if day.finished_at else ""
            table.add_row(day.business_date.isoformat(), day.status,
                          f"{done}/{len(st.steps)}", finished)  # fmt: skip
        console.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(cob_app, name="cob")

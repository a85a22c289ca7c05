"""``finbridge quant``: run a backtest from a YAML config, compute factors, list runs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from finbridge.cli.context import console, platform_context
from finbridge.core.errors import ValidationError
from finbridge.core.principal import Principal

CLI_ACTOR = Principal.system("cli")

quant_app = typer.Typer(help="Quant research: backtests, factors, runs.", no_args_is_help=True)


def _spinner() -> Progress:
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                    console=console, transient=True)  # fmt: skip


@quant_app.command("backtest")
def backtest(
    config: Annotated[Path, typer.Argument(help="YAML run config (see finbridge.quant.config)")],
    out: Annotated[Path | None, typer.Option(help="Also write the tear sheet HTML here")] = None,
) -> None:
    """Validate CONFIG, run the backtest, store it as a run and print its summary."""
    from finbridge.quant import load_config

    with platform_context() as platform:
        cfg = load_config(config)
        service = platform.quant
        with _spinner() as bar:
            bar.add_task(f"backtest {cfg.name}", total=None)
            run = service.run(CLI_ACTOR, cfg, allow_data_dir=True)
        table = Table(title=f"{run.name} ({run.id})")
        table.add_column("metric")
        table.add_column("value", justify="right")
        for key, value in run.summary.items():
            shown = f"{value:.4f}" if isinstance(value, float) else str(value)
            table.add_row(key.replace("_", " "), shown)
        console.print(table)
        if out is not None:
            out.write_text(service.tearsheet(CLI_ACTOR, run.id), encoding="utf-8")
            console.print(f"tear sheet written to {out}")


@quant_app.command("factors")
def factors(
    out: Annotated[Path, typer.Option(help="Parquet file to write (instrument, date, factors)")],
    market: Annotated[str, typer.Option(help="cn or us")] = "cn",
    instruments: Annotated[str | None, typer.Option(help="Comma-separated codes")] = None,
    start: Annotated[str | None, typer.Option(help="YYYY-MM-DD")] = None,
    end: Annotated[str | None, typer.Option(help="YYYY-MM-DD")] = None,
    expr: Annotated[
        list[str] | None, typer.Option(help="NAME=EXPRESSION; repeatable; default: Alpha158")
    ] = None,
    cache_dir: Annotated[
        Path | None, typer.Option(help="Keep computed factors here and reuse them")
    ] = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="Full data sets; default bundled slice")
    ] = None,
) -> None:
    """Compute factor expressions (default the Alpha158 set) over daily bars."""

    def day(value: str | None, field: str) -> dt.date | None:
        try:
            return dt.date.fromisoformat(value) if value else None
        except ValueError:
            raise ValidationError(f"not a date: {value!r}", field=field) from None

    with platform_context() as platform:
        chosen = None
        if expr:
            pairs = [e.partition("=") for e in expr]
            if any(not name.strip() or not sep for name, sep, _ in pairs):
                raise ValidationError("use NAME=EXPRESSION", field="expr")
            chosen = {name.strip(): text for name, _, text in pairs}
        names = [s.strip() for s in instruments.split(",")] if instruments else None
        with _spinner() as bar:
            what = f"{len(chosen)} factors" if chosen else "Alpha158 factors"
            bar.add_task(f"{what} on {market} bars", total=None)
            frame = platform.quant.compute_factors(
                market=market, instruments=names, start=day(start, "start"),
                end=day(end, "end"), expressions=chosen, data_dir=data_dir, cache_dir=cache_dir,
            )  # fmt: skip
        frame.write_parquet(out)
        console.print(f"{frame.width - 2} factors x {frame.height:,} rows written to {out}")


@quant_app.command("runs")
def runs(limit: Annotated[int, typer.Option(min=1, max=200)] = 20) -> None:
    """List stored backtest runs, newest first."""
    with platform_context() as platform:
        table = Table("id", "name", "status", "annual return", "sharpe", "max drawdown", "created")
        for run in platform.quant.list_runs(CLI_ACTOR, limit=limit):
            s = run.summary

            def f(key: str, s: dict[str, object] = s) -> str:
                v = s.get(key)
                return f"{v:.4f}" if isinstance(v, float) else "-"

            created = run.created_at.isoformat(timespec="seconds")
            metrics = [f("annual_return"), f("sharpe"), f("max_drawdown")]
            table.add_row(run.id, run.name, run.status, *metrics, created)
        console.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(quant_app, name="quant")

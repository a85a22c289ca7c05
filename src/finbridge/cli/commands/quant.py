"""``finbridge quant``: run a backtest from a YAML config, compute factors, list runs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from finbridge.cli.context import console, err_console, platform_context
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
            if key in ("warnings", "data_note"):
                continue
            shown = f"{value:.4f}" if isinstance(value, float) else str(value)
            table.add_row(key.replace("_", " "), shown)
        console.print(table)
        if run.summary.get("data_note"):
            console.print(f"[cyan]data[/]: {escape(str(run.summary['data_note']))}")
        for warning in run.summary.get("warnings") or []:
            err_console.print(f"[bold yellow]warning[/]: {escape(str(warning))}")
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
        table = Table(
            "id", "name", "status", "annual return", "sharpe", "max drawdown", "warnings",
            "created", "error",
        )  # fmt: skip
        for run in platform.quant.list_runs(CLI_ACTOR, limit=limit):
            s = run.summary

            def f(key: str, s: dict[str, object] = s) -> str:
                v = s.get(key)
                return f"{v:.4f}" if isinstance(v, float) else "-"

            created = run.created_at.isoformat(timespec="seconds")
            metrics = [f("annual_return"), f("sharpe"), f("max_drawdown")]
            warned = str(len(s.get("warnings") or [])) if run.status == "succeeded" else "-"
            error = escape((run.error or "")[:120])
            table.add_row(run.id, run.name, run.status, *metrics, warned, created, error)
        console.print(table)


data_app = typer.Typer(help="Your own market data: import, list.", no_args_is_help=True)


@data_app.command("import")
def data_import(
    file: Annotated[Path, typer.Argument(help="Daily prices: CSV or Parquet, long or wide")],
    market: Annotated[str, typer.Option(help="Name of the new market (e.g. lse)")],
    calendar: Annotated[str, typer.Option(help="exchange_calendars code, e.g. XLON, XNYS")],
    profile: Annotated[
        str | None, typer.Option(help="Market profile: cn, us, uk (default: by calendar)")
    ] = None,
    layout: Annotated[str, typer.Option(help="auto | long | wide")] = "auto",
    max_missing: Annotated[
        float, typer.Option(help="Share of calendar sessions allowed without prices")
    ] = 0.01,
    instrument: Annotated[
        str | None, typer.Option(help="Name of the one instrument of a file without a ticker")
    ] = None,
    profile_file: Annotated[
        Path | None,
        typer.Option(help="Your own market profile YAML (see `quant profiles` for the keys)"),
    ] = None,
    encoding: Annotated[
        str | None, typer.Option(help="The CSV's text encoding (default: detected)")
    ] = None,
) -> None:
    """Import FILE as MARKET after checking its days against CALENDAR (nothing is filled in).

    Long files: date, instrument (or ticker/symbol), close [open high low volume factor]; a
    file with such price columns and no instrument column is one instrument (--instrument).
    Wide files: date and one column of closes per instrument. Without open/high/low the
    market is close-only, and every run on it says so.
    """
    with platform_context() as platform:
        info = platform.quant.import_market(
            CLI_ACTOR, file, market=market, calendar=calendar, profile=profile,
            layout=layout, max_missing=max_missing, instrument=instrument,
            profile_file=profile_file, encoding=encoding,
        )  # fmt: skip
        console.print(
            f"[green]{info.name}[/]: {info.rows:,} bars of {info.instruments} instruments "
            f"({info.layout}, {'close-only' if info.close_only else 'OHLC'}), {info.first} to "
            f"{info.last}, calendar {info.calendar} ({info.sessions} sessions), profile "
            f"{info.profile} ({info.currency})"
        )
        if info.missing_sessions:
            shown = ", ".join(info.missing_sessions[:10])
            err_console.print(
                f"[yellow]{len(info.missing_sessions)} {info.calendar} sessions have no prices "
                f"(not filled)[/]: {shown}"
            )
        if info.off_calendar_days:
            shown = ", ".join(info.off_calendar_days[:10])
            err_console.print(
                f"[yellow]{len(info.off_calendar_days)} priced days are not {info.calendar} "
                f"sessions[/]: {shown}"
            )
        if info.instrument_gaps:
            console.print(
                f"{info.instrument_gaps} instrument-sessions inside an instrument's own history "
                "have no bar (treated as suspensions)"
            )


@data_app.command("markets")
def data_markets() -> None:
    """The imported markets and what their import found."""
    with platform_context() as platform:
        table = Table("market", "calendar", "profile", "instruments", "from", "to", "close-only",
                      "sessions without prices", "source")  # fmt: skip
        for m in platform.quant.markets(CLI_ACTOR):
            table.add_row(
                m.name, m.calendar, m.profile, str(m.instruments), m.first, m.last,
                "yes" if m.close_only else "no", str(len(m.missing_sessions)), m.source,
            )  # fmt: skip
        console.print(table)


@quant_app.command("profiles")
def profiles() -> None:
    """The shipped market profiles: currency, lots, commissions, taxes with their dates."""
    table = Table("profile", "currency", "calendar", "lot", "T+", "commission buy/sell/min",
                  "taxes", "price limits")  # fmt: skip
    with platform_context() as platform:
        shipped = platform.quant.profiles()
    for p in shipped:
        taxes = [f"sell {r:.2%} from {d}" for d, r in p.stamp_duty]
        taxes += [f"buy {r:.2%} from {d}" for d, r in p.buy_tax]
        table.add_row(
            p.name, p.currency, p.calendar or "-", str(p.lot_size), str(p.t_plus),
            f"{p.commission_buy:g}/{p.commission_sell:g}/{p.min_commission:g}",
            "; ".join(taxes) or "none", _limits(p.price_limits),
        )  # fmt: skip
    console.print(table)


def _limits(rule: Any) -> str:
    if rule is None:
        return "none"
    boards = [f"{'/'.join(b.prefixes)}* {b.limit:.0%}" + (f" from {b.since}" if b.since else "")
              for b in rule.boards]  # fmt: skip
    st = [f"ST {rule.special_treatment:.0%}"] if rule.special_treatment is not None else []
    return "; ".join([f"{rule.default:.0%}", *st, *boards])


quant_app.add_typer(data_app, name="data")


def register(app: typer.Typer) -> None:
    app.add_typer(quant_app, name="quant")

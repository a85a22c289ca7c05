"""``finbridge monitoring``: the learning loop's jobs (daily monitors, the fraud model's
retraining turn) for cron or an operator, and the stored runs."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from finbridge.cli.context import console, platform_context
from finbridge.core.principal import Principal

CLI_ACTOR = Principal.system("cli")

monitoring_app = typer.Typer(
    help="Model monitors (PSI, label-delayed AUC/AP/KS) and retraining.", no_args_is_help=True
)


def _day(value: str | None, param: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter("a date as YYYY-MM-DD", param_hint=param) from None


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


@monitoring_app.command("run")
def run(
    day: Annotated[
        str | None, typer.Option(help="Day to monitor, UTC (default: yesterday)")
    ] = None,
    days: Annotated[int, typer.Option(min=1, max=366, help="Run this many days up to DAY")] = 1,
) -> None:
    """Monitor every live credit and risk model for DAY (a rerun replaces that day's run)."""
    from finbridge.platform import run_monitors

    with platform_context() as platform:
        last = _day(day, "--day") or platform.clock.now().astimezone(UTC).date() - timedelta(1)
        table = Table("day", "engine", "model", "version", "n", "score PSI", "AUC", "status",
                      "alerts")  # fmt: skip
        for i in range(days - 1, -1, -1):
            for r in run_monitors(platform, CLI_ACTOR, last - timedelta(days=i)):
                table.add_row(
                    str(r.day), r.engine, r.model, r.version, str(r.n_current),
                    _num(r.score_psi), _num(r.performance.get("auc")), r.status,
                    ", ".join(a["metric"] for a in r.alerts) or "-",
                )  # fmt: skip
        console.print(table)


@monitoring_app.command("show")
def show(
    engine: Annotated[str, typer.Option(help="risk or credit")] = "risk",
    since: Annotated[str | None, typer.Option(help="First day, YYYY-MM-DD")] = None,
) -> None:
    """The stored runs of ENGINE's models, oldest day first."""
    from finbridge.platform import monitor_store

    with platform_context() as platform:
        runs = monitor_store(platform).history(
            CLI_ACTOR, engine=engine, since=_day(since, "--since")
        )
        table = Table("day", "model", "version", "n", "score PSI", "AUC", "AP", "KS", "status")
        for r in runs:
            p = r.performance
            table.add_row(
                str(r.day), r.model, r.version, str(r.n_current), _num(r.score_psi),
                _num(p.get("auc")), _num(p.get("average_precision")), _num(p.get("ks")), r.status,
            )  # fmt: skip
        console.print(table if runs else f"no {engine} monitor runs yet")


@monitoring_app.command("retrain")
def retrain(
    as_of: Annotated[
        str | None, typer.Option(help="Labels known at this day (default: now)")
    ] = None,
    data: Annotated[
        Path | None, typer.Option(help="Labelled card transactions (default: settings)")
    ] = None,
    margin: Annotated[
        float | None, typer.Option(min=0, max=1, help="AP the challenger must add")
    ] = None,
    from_decisions: Annotated[
        bool,
        typer.Option(
            "--from-decisions",
            help="Train on this platform's own live decisions and their verdicts, not a file",
        ),
    ] = False,
) -> None:
    """One turn of the fraud model's loop: train a challenger, judge it beside the live model,
    register it and promote it past the margin. The registry's pointers carry the switch to
    every serving process."""
    from finbridge.platform import retrain_fraud_model

    when = _day(as_of, "--as-of")
    with platform_context() as platform:
        at = datetime.combine(when, datetime.min.time(), tzinfo=UTC) if when else None
        result = retrain_fraud_model(
            platform, CLI_ACTOR, as_of=at, data=data, margin=margin,
            source="decisions" if from_decisions else "data",
        )  # fmt: skip
        table = Table("model", "AUC", "AP", "card precision@10")
        for judged in filter(None, (result.champion, result.challenger)):
            j = judged.to_json()
            table.add_row(j["version"], _num(j["auc"]), _num(j["average_precision"]),
                          _num(j["card_precision_10"]))  # fmt: skip
        console.print(table)
        verdict = "promoted" if result.promote else "kept in shadow"
        console.print(f"{result.challenger.version} {verdict}: {result.reason}")


def register(app: typer.Typer) -> None:
    app.add_typer(monitoring_app, name="monitoring")

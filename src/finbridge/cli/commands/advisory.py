"""``finbridge advisory``: catalogue, model portfolios, the walk-forward report, suitability."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from finbridge.cli.context import console, platform_context
from finbridge.core.principal import Principal

CLI_ACTOR = Principal.system("cli")

advisory_app = typer.Typer(
    help="Robo-advice: products and levels, model portfolios, report, suitability evidence.",
    no_args_is_help=True,
)


@advisory_app.command("products")
def products(
    max_level: Annotated[str | None, typer.Option(help="Only up to this level (R1..R5)")] = None,
) -> None:
    """The catalogue with each product's level, volatility and drawdown."""
    with platform_context() as platform:
        table = Table("code", "name", "class", "level", "volatility", "max drawdown", "minimum",
                      "fee", "T+")  # fmt: skip
        for p in platform.advisory.products(max_level):
            table.add_row(
                p.code, p.name, p.asset_class, p.risk_level, f"{p.volatility:.1%}",
                f"{p.max_drawdown:.1%}", f"{p.minimum.amount} {p.currency}",
                f"{p.subscription_fee:.2%}", str(p.settlement_days),
            )  # fmt: skip
        console.print(table)


@advisory_app.command("portfolios")
def portfolios() -> None:
    """Build C1..C5 and validate them walk-forward (takes a while: skfolio fits every quarter)."""
    with platform_context() as platform:
        with console.status("fitting and validating the model portfolios"):
            report = platform.advisory.model_portfolios(CLI_ACTOR)
        title = f"out of sample {report.start}..{report.end}"
        table = Table("portfolio", "method", "return", "volatility", "Sharpe", "max drawdown",
                      "CVaR 95%", "largest rebalance", "over limit", "level",
                      title=title)  # fmt: skip
        for b in (*report.models, *report.benchmarks):
            m = b.metrics
            table.add_row(
                b.name, b.method, f"{m.annual_return:.2%}", f"{m.annual_volatility:.2%}",
                f"{m.sharpe:.2f}", f"{m.max_drawdown:.1%}", f"{m.cvar_95:.2%}",
                f"{b.largest_rebalance:.1%}", str(len(b.over_limit)), m.risk_level,
            )  # fmt: skip
        console.print(table)
        console.print(f"ordered by risk out of sample: {report.risk_ordered()}")
        console.print(report.turnover_rule())


@advisory_app.command("report")
def report(
    out: Annotated[Path, typer.Option(help="HTML file to write")] = Path("advisory-report.html"),
) -> None:
    """Write the walk-forward report (self-contained HTML with charts)."""
    with platform_context() as platform:
        with console.status("fitting and validating the model portfolios"):
            page = platform.advisory.report_html(CLI_ACTOR)
        out.write_text(page, encoding="utf-8")
        console.print(f"report written to {out}")


@advisory_app.command("evidence")
def evidence(
    customer: Annotated[str | None, typer.Option(help="Customer id")] = None,
    product: Annotated[str | None, typer.Option(help="Product code")] = None,
    outcome: Annotated[str | None, typer.Option(help="match, warning_required, ...")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
) -> None:
    """Stored suitability decisions, newest first."""
    with platform_context() as platform:
        table = Table("when", "customer", "product", "level", "category", "outcome", "allowed",
                      "confirmed", "2nd factor", "channel")  # fmt: skip
        for d in platform.advisory.evidence(
            CLI_ACTOR, customer_id=customer, product_code=product, outcome=outcome, limit=limit
        ):
            table.add_row(
                d.created_at.isoformat(timespec="seconds"), d.customer_id, d.product_code,
                d.product_level, d.category or "-", d.outcome, str(d.allowed),
                str(d.confirmed), str(d.second_factor), d.channel,
            )  # fmt: skip
        console.print(table)


@advisory_app.command("settle")
def settle() -> None:
    """Settle the orders whose settlement day has come (the nightly job)."""
    with platform_context() as platform:
        done = platform.advisory.settle_due(CLI_ACTOR)
        for o in done:
            console.print(f"{o.side} {o.product_code} {o.units} units at {o.nav} ({o.id})")
        console.print(f"{len(done)} orders settled")


@advisory_app.command("drift")
def drift() -> None:
    """The nightly drift check: customers whose funds left their bands."""
    with platform_context() as platform:
        with console.status("checking every account against its model"):
            found = platform.advisory.nightly_drift(CLI_ACTOR)
        for customer_id, largest in found:
            console.print(f"{customer_id}: largest drift {largest:.1%}")
        console.print(f"{len(found)} accounts need rebalancing")


def register(app: typer.Typer) -> None:
    app.add_typer(advisory_app, name="advisory")

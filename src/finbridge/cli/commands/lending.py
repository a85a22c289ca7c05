"""``finbridge lending``: install the product catalogue, list products and lines, show a line,
instalment plans (quote, convert, settle) and limit reviews."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from finbridge.cli.context import console, platform_context
from finbridge.core.principal import Principal

if TYPE_CHECKING:
    from finbridge.lending import InstalmentPlan

CLI_ACTOR = Principal.system("cli")

lending_app = typer.Typer(help="Consumer credit lines.", no_args_is_help=True)


@lending_app.command("install")
def install() -> None:
    """Load the shipped products and limit policies (existing versions are kept as they are)."""
    with platform_context() as platform:
        added = platform.lending.install_catalogue(CLI_ACTOR)
        console.print(f"{added} product or policy versions added")


@lending_app.command("products")
def products() -> None:
    """The products and their terms."""
    with platform_context() as platform:
        table = Table(title="credit-line products")
        for col in ("id", "currency", "limits", "statement day", "due days", "daily rate"):
            table.add_column(col)
        for p in platform.lending.products(CLI_ACTOR):
            table.add_row(
                p.product_id, p.currency, f"{p.limit_min.amount}-{p.limit_max.amount}",
                str(p.statement_day), str(p.due_days), str(p.daily_rate),
            )  # fmt: skip
        console.print(table)


@lending_app.command("lines")
def lines(
    customer_id: Annotated[str | None, typer.Option(help="Only this customer's lines")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
) -> None:
    """Credit lines, newest first: limit, owed, days past due, bucket, status."""
    with platform_context() as platform:
        table = Table(title="credit lines")
        for col in ("line", "customer", "limit", "owed", "dpd", "bucket", "status", "next stmt"):
            table.add_column(col)
        for x in platform.lending.lines(CLI_ACTOR, customer_id=customer_id, limit=limit):
            table.add_row(
                x.id, x.customer_id[:8], str(x.limit), str(x.owed), str(x.dpd), x.bucket,
                x.status, x.next_statement_date.isoformat(),
            )  # fmt: skip
        console.print(table)


@lending_app.command("statements")
def statements(line_id: Annotated[str, typer.Argument(help="The line's id")]) -> None:
    """A line's statements, newest first, each checked against the ledger."""
    with platform_context() as platform:
        table = Table(title=f"statements of {line_id}")
        for col in ("date", "due", "opening", "purchases", "interest", "fees", "payments",
                    "closing", "minimum", "status", "ledger"):  # fmt: skip
            table.add_column(col)
        for s in platform.lending.statements(CLI_ACTOR, line_id):
            rec = platform.lending.reconcile(CLI_ACTOR, s.id)
            table.add_row(
                s.statement_date.isoformat(), s.due_date.isoformat(), str(s.opening.amount),
                str(s.purchases.amount), str(s.interest.amount), str(s.fees.amount),
                str(s.payments.amount), str(s.closing.amount), str(s.minimum_due.amount),
                s.status, "reconciled" if rec.reconciled else "[red]DIFFERS[/]",
            )  # fmt: skip
        console.print(table)


def _plan_table(title: str, plan: InstalmentPlan) -> Table:
    table = Table(title=title)
    for col in ("period", "bills on", "principal", "fee", "total", "status"):
        table.add_column(col)
    for p in plan.schedule:
        table.add_row(
            str(p.number), p.bill_date.isoformat(), str(p.principal.amount), str(p.fee.amount),
            str(p.total.amount), p.status,
        )  # fmt: skip
    return table


@lending_app.command("convert")
def convert(
    source: Annotated[str, typer.Argument(help="purchase or statement")],
    source_id: Annotated[str, typer.Argument(help="The purchase's or the statement's id")],
    periods: Annotated[int, typer.Option(help="3, 6, 9 or 12")] = 12,
    yes: Annotated[bool, typer.Option("--yes", help="Convert (else only show the quote)")] = False,
) -> None:
    """Quote an instalment plan for a purchase or a statement; convert it with --yes."""
    if source not in ("purchase", "statement"):
        raise typer.BadParameter("purchase or statement", param_hint="SOURCE")
    with platform_context() as platform:
        desk = platform.lending.instalments
        plan = (desk.convert if yes else desk.quote)(CLI_ACTOR, source, source_id, periods)
        console.print(_plan_table(f"{plan.periods} periods of {plan.principal}", plan))
        console.print(
            f"fee {plan.fee_mode.replace('_', ' ')}: {plan.total_fee} in all"
            + (f" (plan {plan.id})" if plan.id else " - quote only, run again with --yes")
        )


@lending_app.command("instalments")
def instalments(line_id: Annotated[str, typer.Argument(help="The line's id")]) -> None:
    """A line's instalment plans with their schedules."""
    with platform_context() as platform:
        for plan in platform.lending.instalments.plans(CLI_ACTOR, line_id):
            title = f"plan {plan.id} ({plan.source}, {plan.status}, {plan.remaining} unbilled)"
            console.print(_plan_table(title, plan))


@lending_app.command("settle")
def settle(
    plan_id: Annotated[str, typer.Argument(help="The plan's id")],
    idempotency_key: Annotated[str, typer.Option("--key", help="Idempotency key")],
) -> None:
    """Settle an instalment plan early from the line's deposit account."""
    with platform_context() as platform:
        desk = platform.lending.instalments
        plan = desk.settle(CLI_ACTOR, plan_id, idempotency_key=idempotency_key)
        console.print(f"plan {plan.id}: {plan.status}")


@lending_app.command("review-limit")
def review_limit(line_id: Annotated[str, typer.Argument(help="The line's id")]) -> None:
    """Review a line's limit now (the close of business reviews lines periodically)."""
    with platform_context() as platform:
        r = platform.lending.reviews.review(CLI_ACTOR, line_id)
        console.print(f"{r.outcome}: {r.old_limit} -> {r.new_limit} ({'; '.join(r.reasons)})")


@lending_app.command("reviews")
def reviews(line_id: Annotated[str, typer.Argument(help="The line's id")]) -> None:
    """A line's limit reviews, newest first."""
    with platform_context() as platform:
        table = Table(title=f"limit reviews of {line_id}")
        for col in ("date", "outcome", "old", "new", "in use", "score", "model", "reasons"):
            table.add_column(col)
        for r in platform.lending.reviews.reviews(CLI_ACTOR, line_id):
            table.add_row(
                r.business_date.isoformat(), r.outcome, str(r.old_limit.amount),
                str(r.new_limit.amount), str(r.used.amount),
                "-" if r.score is None else f"{r.score:.0f}", r.score_model or "-",
                "; ".join(r.reasons),
            )  # fmt: skip
        console.print(table)


@lending_app.command("simulate")
def simulate(
    customers: Annotated[int, typer.Option(help="How many of the demo's customers")] = 10_000,
    months: Annotated[int, typer.Option(help="Months to simulate")] = 12,
    seed: Annotated[int, typer.Option(help="The random stream (same seed, same run)")] = 14,
    cohorts: Annotated[
        int | None, typer.Option(help="Origination cohorts (vintages); default up to 4")
    ] = None,
    product: Annotated[str, typer.Option(help="A catalogued product id")] = "everyday@1",
    out: Annotated[Path | None, typer.Option(help="Write the HTML report here")] = None,
    fresh: Annotated[bool, typer.Option(help="Compute again even if this run is cached")] = False,
) -> None:
    """The portfolio simulation: utilisation, roll rates, vintages, revenue, charge-offs."""
    from finbridge.lending import SimulationParams
    from finbridge.web import simulation_report

    with platform_context() as platform:  # a bad parameter is reported naming its field
        params = SimulationParams.parse(
            {"product_id": product, "customers": customers, "months": months, "seed": seed,
             "cohorts": cohorts or 0}
        )  # fmt: skip
        result = platform.lending_simulations.run(CLI_ACTOR, params, use_cache=not fresh)
    table = Table(title=f"{customers} customers x {months} months, {product} ({result.currency})")
    for col in ("month", "open", "utilisation", "spend", "interest", "fees", "charge-offs"):
        table.add_column(col)
    for m in result.months:
        table.add_row(
            m.month, str(m.open_lines), f"{m.utilisation:.1%}",
            *(str(result.money(x).amount) for x in (
                m.spend_minor, m.interest_minor, m.fees_minor, m.charge_offs_minor)),
        )  # fmt: skip
    console.print(table)
    rolls = ", ".join(f"{r.source}->{r.target} {r.rate:.1%}" for r in result.roll_rates)
    console.print(f"roll rates: {rolls}")
    console.print(f"computed in {result.seconds:.2f} s")
    if out is not None:
        out.write_text(simulation_report(result), encoding="utf-8")
        console.print(f"report written to {out}")


def register(app: typer.Typer) -> None:
    app.add_typer(lending_app, name="lending")

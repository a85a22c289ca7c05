"""``finbridge lending``: install the product catalogue, list products and lines, show a line."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from finbridge.cli.context import console, platform_context
from finbridge.core.principal import Principal

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


def register(app: typer.Typer) -> None:
    app.add_typer(lending_app, name="lending")

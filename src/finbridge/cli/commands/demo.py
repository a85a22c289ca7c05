"""``finbridge demo`` and ``finbridge data load``: real demo data, then serve."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from finbridge.cli.commands.serve import BackgroundServer, serving_settings
from finbridge.cli.context import cli_settings, console, err_console, platform_context
from finbridge.core.principal import Principal, Role
from finbridge.platform import Platform, upgrade_database

if TYPE_CHECKING:
    from finbridge.cli.demo_data import LoadResult


def _load_with_bars(platform: Platform, *, limit: int | None, relay: bool) -> LoadResult:
    from finbridge.cli.demo_data import load_demo_data

    columns = (
        TextColumn("{task.description:<16}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as bars:
        tasks: dict[str, TaskID] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bars.add_task(stage, total=total)
            bars.update(tasks[stage], completed=done, total=total)

        return load_demo_data(platform, limit=limit, progress=progress, relay=relay)


def _engines(platform: Platform) -> None:
    """Credit, risk and quant seeded from the demo's own data (idempotent)."""
    from finbridge.cli.demo_engines import seed_engines

    clients = platform.banking.count_customers(Principal.system("demo"))
    seeded = seed_engines(platform, clients=clients, say=lambda line: console.print(line))
    for label, value in (
        ("credit model", seeded.credit_model),
        ("risk rule set", seeded.risk_rule_set),
        ("quant backtest", seeded.quant_run),
        ("advisory", seeded.advisory),
        ("payments", seeded.payments),
        ("acquisition", seeded.acquisition),
        ("feature store", seeded.features),
        ("approvals", seeded.approvals),
    ):
        if value is not None:
            console.print(f"[green]{label}[/]: {value}")


def _app_login(platform: Platform, base: str) -> None:
    """The customer app's ready login (password + TOTP secret for an authenticator app)."""
    from finbridge.cli.demo_app import seed_app_customer

    login = seed_app_customer(platform)
    console.print(f"[bold]Customer app:[/] {base}/app")
    _app_payments(platform)
    if login is None:
        console.print("the demo customer exists but its login file is gone; register at /app")
        return
    console.print(
        f"  mobile {login.phone}  password {login.password}  TOTP secret {login.totp_secret}",
        soft_wrap=True,
        highlight=False,
    )


def _app_payments(platform: Platform) -> None:
    """The demo customer's payments, so /app/pay is not empty (once; a code to try printed)."""
    from finbridge.cli.demo_app import CUSTOMER, PAYEE
    from finbridge.cli.demo_payments import seed_app_payments

    customer = platform.identity.persons.find_by_phone(CUSTOMER.phone)
    seeded = seed_app_payments(platform, customer, PAYEE.phone) if customer else None
    if seeded is not None:
        console.print(f"[green]app payments[/]: {seeded}", soft_wrap=True, highlight=False)


def _migrate_lake(platform: Platform) -> None:
    """A demo seeded before the lake moved to Delta keeps its events (issue 19)."""
    from finbridge.lake import migrate_legacy

    result = migrate_legacy(platform.lake_dir)  # nothing to do on a Delta lake
    if result.status != "already":
        console.print(f"[green]lake moved to Delta[/]: {result.events:,} events")


def _summary(result: LoadResult) -> None:
    console.print(
        f"[green]loaded[/] {result.customers_opened:,} customers with TWD accounts, "
        f"{result.card_posted:,} card payments posted "
        f"({result.card_duplicates:,} already there, {result.card_declined:,} declined), "
        f"{result.events_published:,} events to the lake in {result.seconds:.1f} s",
        soft_wrap=True,
    )


def register(app: typer.Typer) -> None:
    data = typer.Typer(help="Demo and reference data.", no_args_is_help=True)

    @data.command("load")
    def load_cmd(
        limit: int = typer.Option(None, min=1, help="Load only the first N clients."),
    ) -> None:
        """Load the shipped real data slices (Taiwan clients, replayed card payments)."""
        with platform_context() as platform:
            upgrade_database(platform)
            _summary(_load_with_bars(platform, limit=limit, relay=True))

    app.add_typer(data, name="data")

    @app.command("demo")
    def demo_cmd(
        limit: int = typer.Option(
            None, min=1, help="Seed only the first N of the 30,000 clients (faster)."
        ),
        serve: bool = typer.Option(True, "--serve/--no-serve", help="Serve after seeding."),
        host: str = typer.Option(None, help="Interface to bind (default FINBRIDGE_SERVE__HOST)."),
        port: int = typer.Option(None, help="Port (default FINBRIDGE_SERVE__PORT, 8000)."),
    ) -> None:
        """Seed real demo data if the database is empty, issue an admin key, serve."""
        from finbridge.cli.demo_data import is_seeded
        from finbridge.cli.relay_loop import RelayLoop

        started = time.perf_counter()
        with platform_context(serving_settings(cli_settings()) if serve else None) as platform:
            upgrade_database(platform)
            _migrate_lake(platform)
            # The app is built and bound while the data loads (imports and seeding overlap);
            # the server's relay thread publishes the seeding events afterwards.
            server = BackgroundServer(platform, host=host, port=port).start() if serve else None
            try:
                if is_seeded(platform):
                    console.print("database already seeded; skipping the data load")
                else:
                    _summary(_load_with_bars(platform, limit=limit, relay=not serve))
                _engines(platform)
                issued = platform.api_keys.issue("demo admin", [Role.ADMIN])
                if server is not None:
                    try:
                        server.wait_started()
                    except RuntimeError as exc:
                        err_console.print(f"[bold red]error[/]: {exc}")
                        raise typer.Exit(1) from None
                settings = platform.settings
                base = f"http://{host or settings.serve.host}:{port or settings.serve.port}"
                console.print()
                console.print(f"[bold]Console:[/] {base}/console   [bold]API docs:[/] {base}/docs")
                console.print("[bold]Log in with this admin API key[/] (shown once):")
                console.print(issued.plaintext, soft_wrap=True, highlight=False)
                _app_login(platform, base)
                elapsed = time.perf_counter() - started
                if server is None:
                    console.print(f"ready to serve after {elapsed:.1f} s")
                else:
                    console.print(f"serving after {elapsed:.1f} s (Ctrl+C stops)")
                if server is not None:
                    relay = RelayLoop(platform).start()
                    try:
                        server.wait()
                    finally:
                        relay.stop()
            finally:
                if server is not None:
                    server.stop()

"""``finbridge openbanking``: apps (register, approve, suspend, list), consents, API usage, the
audit trail, the replay store's clean-up, a developer's sandbox reset, and a signing key for
production."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from finbridge.cli.context import console, platform_context
from finbridge.core.principal import Principal

CLI_ACTOR = Principal.system("cli")

openbanking_app = typer.Typer(
    help="Open banking: third-party apps, consents, the authorisation server's audit trail.",
    no_args_is_help=True,
)


@openbanking_app.command("apps")
def apps(
    status: Annotated[str | None, typer.Option(help="pending, approved or suspended")] = None,
) -> None:
    """List the registered apps."""
    from finbridge.openbanking import AppStatus

    with platform_context() as platform:
        wanted = None if status is None else AppStatus(status)
        table = Table(title="open-banking apps")
        for column in ("client_id", "name", "developer", "category", "scopes", "status"):
            table.add_column(column)
        for app in platform.openbanking.apps.list(CLI_ACTOR, status=wanted):
            table.add_row(
                app.client_id,
                escape(app.name),
                escape(app.developer),
                app.category,
                ",".join(app.scopes),
                app.status.value,
            )
        console.print(table)


@openbanking_app.command("register")
def register_app(
    name: Annotated[str, typer.Option(help="The app's name")],
    developer: Annotated[str, typer.Option(help="Who builds it")],
    redirect_uri: Annotated[list[str], typer.Option(help="Registered redirect URI (repeat)")],
    scope: Annotated[list[str], typer.Option(help="accounts and/or payments (repeat)")],
    jwks: Annotated[Path | None, typer.Option(help="JSON file with the app's public JWKS")] = None,
    jwks_uri: Annotated[
        str | None, typer.Option(help="Where the app publishes its keys (instead of --jwks)")
    ] = None,
    category: Annotated[str, typer.Option(help="budgeting, accounting, payments, ...")] = "other",
    description: Annotated[str, typer.Option(help="What the app does")] = "",
    approve: Annotated[bool, typer.Option(help="Approve it at once (operators)")] = False,
    initiate_login_uri: Annotated[
        str | None, typer.Option(help="Where the app store's Connect sends the customer")
    ] = None,
) -> None:
    """Register an app (pending an operator's approval unless --approve)."""
    from finbridge.openbanking import AppStatus

    keys = None if jwks is None else json.loads(jwks.read_text(encoding="utf-8"))
    with platform_context() as platform:
        registry = platform.openbanking.apps
        app = registry.register(
            CLI_ACTOR,
            name=name,
            developer=developer,
            redirect_uris=redirect_uri,
            jwks=keys,
            jwks_uri=jwks_uri,
            scopes=scope,
            category=category,
            description=description,
            initiate_login_uri=initiate_login_uri,
        )
        if approve:
            app = registry.decide(CLI_ACTOR, app.client_id, AppStatus.APPROVED)
        console.print(f"client_id [bold]{app.client_id}[/] ({app.status.value})")


@openbanking_app.command("logo")
def logo(
    client_id: Annotated[str, typer.Argument()],
    image: Annotated[Path, typer.Argument(help="A PNG or JPEG file")],
) -> None:
    """Set an app's logo (re-drawn as a PNG of at most 256 px a side; metadata dropped)."""
    with platform_context() as platform:
        app = platform.openbanking.apps.set_logo(CLI_ACTOR, client_id, image.read_bytes())
    console.print(f"logo set for [bold]{app.name}[/] (sha256 {app.logo})")


@openbanking_app.command("approve")
def approve(client_id: Annotated[str, typer.Argument()]) -> None:
    """Approve an app: it may start authorisation requests."""
    _decide(client_id, "approved")


@openbanking_app.command("suspend")
def suspend(client_id: Annotated[str, typer.Argument()]) -> None:
    """Suspend an app: its client authentication fails from now on."""
    _decide(client_id, "suspended")


def _decide(client_id: str, status: str) -> None:
    from finbridge.openbanking import AppStatus

    with platform_context() as platform:
        app = platform.openbanking.apps.decide(CLI_ACTOR, client_id, AppStatus(status))
        console.print(f"{escape(app.name)}: {app.status.value}")


@openbanking_app.command("consents")
def consents(
    customer: Annotated[str | None, typer.Option(help="A customer id")] = None,
    client: Annotated[str | None, typer.Option(help="An app's client_id")] = None,
) -> None:
    """Search consents by customer or app, newest first."""
    with platform_context() as platform:
        found = platform.openbanking.server.consents(
            CLI_ACTOR, customer_id=customer, client_id=client
        )
        table = Table(title="consents")
        for column in ("id", "client_id", "customer", "kind", "status", "expires"):
            table.add_column(column)
        for c in found:
            table.add_row(
                c.id,
                c.client_id,
                c.customer_id or "-",
                c.kind.value,
                c.status.value,
                c.expires_at.isoformat(timespec="minutes"),
            )
        console.print(table)


@openbanking_app.command("revoke")
def revoke(consent_id: Annotated[str, typer.Argument()]) -> None:
    """Revoke a consent and every token issued under it."""
    with platform_context() as platform:
        consent = platform.openbanking.server.revoke_consent(CLI_ACTOR, consent_id)
        console.print(f"consent {consent.id}: {consent.status.value}")


@openbanking_app.command("audit")
def audit(
    client: Annotated[str | None, typer.Option(help="An app's client_id")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
) -> None:
    """The authorisation server's decisions, granted and refused, newest first."""
    with platform_context() as platform:
        table = Table(title="open-banking audit")
        for column in ("at", "action", "outcome", "client_id", "detail"):
            table.add_column(column)
        for r in platform.openbanking.audit.recent(client_id=client, limit=limit):
            table.add_row(
                r.at.isoformat(timespec="seconds"),
                r.action,
                r.outcome,
                r.client_id or "-",
                escape(r.detail[:80]),
            )
        console.print(table)


@openbanking_app.command("usage")
def usage(
    client: Annotated[str | None, typer.Option(help="An app's client_id")] = None,
    days: Annotated[int, typer.Option(min=1, max=366, help="Last business days")] = 7,
) -> None:
    """Third-party API calls per app, business day, resource and outcome."""
    with platform_context() as platform:
        table = Table(title="open-banking API usage")
        for column in ("day", "client_id", "resource", "outcome", "calls"):
            table.add_column(column)
        for u in platform.openbanking.usage.report(CLI_ACTOR, client_id=client, days=days):
            table.add_row(u.day.isoformat(), u.client_id, u.resource, u.outcome, str(u.calls))
        console.print(table)


@openbanking_app.command("deliver")
def deliver(limit: Annotated[int, typer.Option(min=1, max=10_000)] = 100) -> None:
    """Send the webhook deliveries that are due (signed, retried with backoff)."""
    with platform_context() as platform:
        run = platform.openbanking.webhooks.deliver_due(CLI_ACTOR, limit=limit)
        console.print(f"delivered {run.delivered}, retrying {run.retrying}, failed {run.failed}")


@openbanking_app.command("sandbox-reset")
def sandbox_reset(
    developer: Annotated[
        str, typer.Argument(help="The developer: the principal id that registers its sandbox apps")
    ],
) -> None:
    """Put a developer's sandbox back as seeded (its synthetic customers' balances and history;
    the same ids, so its consents still name its accounts). Other sandboxes are not touched."""
    with platform_context() as platform:
        box = platform.openbanking.reset_sandbox(CLI_ACTOR, developer)
        accounts = sum(len(c.accounts) for c in box.customers)
        console.print(
            f"sandbox of {escape(box.developer)} reset at {box.seeded_at:%Y-%m-%d %H:%M:%S %Z}:"
            f" {len(box.customers)} customers, {accounts} accounts"
        )


@openbanking_app.command("prune")
def prune() -> None:
    """Forget expired JWT ids (client assertions and DPoP proofs past their window)."""
    with platform_context() as platform:
        console.print(f"{platform.openbanking.replay.prune()} expired JWT ids removed")


@openbanking_app.command("keygen")
def keygen() -> None:
    """Print a new private EC P-256 JWK for FINBRIDGE_OPENBANKING__SIGNING_KEY."""
    from joserfc.jwk import ECKey

    key = ECKey.generate_key("P-256")
    typer.echo(json.dumps(key.as_dict(private=True)))


def register(app: typer.Typer) -> None:
    app.add_typer(openbanking_app, name="openbanking")

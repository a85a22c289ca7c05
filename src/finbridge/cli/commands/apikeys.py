"""``finbridge apikeys``: issue, list and revoke operator API keys."""

from __future__ import annotations

import typer
from rich.table import Table

from finbridge.cli.context import console, platform_context
from finbridge.core.principal import Role


def register(app: typer.Typer) -> None:
    keys = typer.Typer(
        help="Operator API keys (hashed at rest, scoped by role).", no_args_is_help=True
    )

    @keys.command("create")
    def create_cmd(
        name: str = typer.Argument(..., help="Who or what the key is for."),
        role: list[Role] = typer.Option(
            [Role.TELLER], "--role", "-r", help="Role(s) granted; repeat for several."
        ),
    ) -> None:
        """Issue a key. The secret is printed once and never stored."""
        with platform_context() as platform:
            issued = platform.api_keys.issue(name, role)
        roles = ", ".join(r.value for r in issued.key.roles)
        console.print(f"[green]created[/] key {issued.key.id} ({roles})")
        console.print("Store it now, it is not shown again:")
        console.print(issued.plaintext, soft_wrap=True, highlight=False)

    @keys.command("list")
    def list_cmd() -> None:
        """List keys (prefixes only; secrets are never shown again)."""
        with platform_context() as platform:
            rows = platform.api_keys.list()
        table = Table("id", "prefix", "name", "roles", "created", "revoked")
        for k in rows:
            table.add_row(
                k.id,
                f"fbk_{k.prefix}_…",
                k.name,
                ", ".join(r.value for r in k.roles),
                k.created_at.strftime("%Y-%m-%d %H:%M"),
                k.revoked_at.strftime("%Y-%m-%d %H:%M") if k.revoked_at else "",
            )
        console.print(table)

    @keys.command("revoke")
    def revoke_cmd(
        key_id: str = typer.Argument(..., help="The key id from `apikeys list`."),
    ) -> None:
        """Revoke a key; requests and console sessions using it fail from now on."""
        with platform_context() as platform:
            platform.api_keys.revoke(key_id)
        console.print(f"[yellow]revoked[/] {key_id}")

    app.add_typer(keys, name="apikeys")

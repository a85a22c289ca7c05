"""``finbridge config show``: the effective settings, secrets masked."""

from __future__ import annotations

import json

import typer

from finbridge.cli.context import cli_settings, console


def register(app: typer.Typer) -> None:
    config = typer.Typer(help="Settings (FINBRIDGE_* environment).", no_args_is_help=True)

    @config.command("show")
    def show_cmd() -> None:
        """Print the effective settings as JSON, with secrets masked."""
        console.print_json(json.dumps(cli_settings().masked()))

    app.add_typer(config, name="config")

"""Shared CLI plumbing: the settings parsed once, the platform built from them, plain errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.markup import escape

from finbridge.core.errors import FinbridgeError
from finbridge.core.settings import Settings
from finbridge.platform import Platform

console = Console()
err_console = Console(stderr=True)


def cli_settings() -> Settings:
    """The settings tree of this command, parsed from FINBRIDGE_* (once per command: each
    command calls this at its start and passes the result down). A bad value stops the command
    with the setting named."""
    from pydantic import ValidationError

    try:
        return Settings()
    except ValidationError as exc:
        for error in exc.errors():
            name = "FINBRIDGE_" + "__".join(str(part) for part in error["loc"]).upper()
            err_console.print(f"[bold red]invalid setting[/] {name}: {error['msg']}")
        raise typer.Exit(2) from None


@contextmanager
def platform_context(settings: Settings | None = None) -> Iterator[Platform]:
    """Build the platform; turn domain errors into exit code 2; close it afterwards.

    The schema is not migrated here: ``finbridge db upgrade`` (and the demo) do that.
    """
    platform = Platform.build(settings or cli_settings())
    try:
        yield platform
    except FinbridgeError as exc:
        # escaped: a message listing values in brackets is not rich markup
        err_console.print(f"[bold red]error[/]: {escape(str(exc))}")
        raise typer.Exit(2) from None
    finally:
        platform.close()

"""Shared CLI plumbing: build the platform from settings, print errors plainly."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console

from finbridge.core.errors import FinbridgeError
from finbridge.core.settings import Settings
from finbridge.platform import Platform

console = Console()
err_console = Console(stderr=True)


@contextmanager
def platform_context(*, migrate: bool = True) -> Iterator[Platform]:
    """Build the platform from FINBRIDGE_* settings; turn domain errors into exit code 2."""
    platform = Platform.build(Settings(), migrate=migrate)
    try:
        yield platform
    except FinbridgeError as exc:
        err_console.print(f"[bold red]error[/]: {exc}")
        raise typer.Exit(2) from None
    finally:
        platform.close()

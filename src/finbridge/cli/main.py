"""The ``finbridge`` command line (Typer + Rich).

Command groups are discovered: every module in ``finbridge.cli.commands`` defines
``register(app)`` and adds its commands or sub-apps, so engines add CLI verbs without editing
this file.
"""

from __future__ import annotations

import importlib
import pkgutil

import typer

from finbridge.cli import commands

app = typer.Typer(
    name="finbridge",
    help="finbridge: the open smart-finance platform for a bank and its internet partners.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)

for _info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
    _module = importlib.import_module(f"{commands.__name__}.{_info.name}")
    _register = getattr(_module, "register", None)
    if callable(_register):
        _register(app)


if __name__ == "__main__":  # pragma: no cover
    app()

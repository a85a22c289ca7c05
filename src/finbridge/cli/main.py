"""The ``finbridge`` command line (Typer + Rich).

Command groups are listed here, one line each, in help order. Command modules import engines
inside their commands, never at module level: ``finbridge --help`` imports no engine.
"""

from __future__ import annotations

import typer

from finbridge.cli.commands import (
    acquisition,
    advisory,
    apikeys,
    cob,
    config,
    credit,
    db,
    demo,
    events,
    features,
    gateway,
    identity,
    lake,
    lending,
    monitoring,
    openbanking,
    payments,
    quant,
    risk,
    serve,
)

app = typer.Typer(
    name="finbridge",
    help="finbridge: the open smart-finance platform for a bank and its internet partners.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)

COMMAND_GROUPS = (
    serve.register,
    gateway.register,
    demo.register,
    db.register,
    config.register,
    apikeys.register,
    events.register,
    lake.register,
    features.register,
    identity.register,
    credit.register,
    risk.register,
    quant.register,
    advisory.register,
    acquisition.register,
    payments.register,
    lending.register,
    openbanking.register,
    cob.register,
    monitoring.register,
)

for _register in COMMAND_GROUPS:
    _register(app)


if __name__ == "__main__":  # pragma: no cover
    app()

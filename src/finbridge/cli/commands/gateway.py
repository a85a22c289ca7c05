"""``finbridge gateway``: serve the risk decision gateway in this process."""

from __future__ import annotations

import typer

from finbridge.cli.context import cli_settings, console

DEFAULT_PORT = 8001


def register(app: typer.Typer) -> None:
    @app.command("gateway")
    def gateway_cmd(
        host: str = typer.Option(None, help="Interface to bind (default FINBRIDGE_SERVE__HOST)."),
        port: int = typer.Option(
            None, help=f"Port (default FINBRIDGE_SERVE__GATEWAY_PORT, else {DEFAULT_PORT})."
        ),
        writer_process: bool = typer.Option(
            None,
            "--writer-process/--no-writer-process",
            help="Commit decisions in a child process "
            "(default FINBRIDGE_SERVE__RISK_WRITER_PROCESS).",
        ),
    ) -> None:
        """Serve POST /v1/risk/decisions (and /health, /ready) for high decision volumes."""
        from finbridge.gateway import run_gateway

        settings = cli_settings()
        serve = settings.serve
        host = host or serve.host
        port = port or serve.gateway_port or DEFAULT_PORT
        if writer_process is None:
            writer_process = serve.risk_writer_process or settings.risk.writer_process
        console.print(f"[bold]finbridge decision gateway[/] on http://{host}:{port}")
        run_gateway(settings, host=host, port=port, writer_process=writer_process)

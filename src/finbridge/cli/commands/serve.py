"""``finbridge serve``: run the API and the console with uvicorn (and the outbox relay)."""

from __future__ import annotations

import typer

from finbridge.cli.context import console
from finbridge.core.settings import Settings
from finbridge.platform import Platform


def serve_platform(platform: Platform, *, host: str | None = None, port: int | None = None) -> None:
    """Serve ``create_app(platform=...)`` until interrupted, relaying events to the lake."""
    import uvicorn

    from finbridge.api import create_app
    from finbridge.cli.relay_loop import RelayLoop

    settings = platform.settings
    relay = RelayLoop(platform).start()
    try:
        uvicorn.run(
            create_app(platform=platform),
            host=host or settings.host,
            port=port or settings.port,
            log_level="info",
            server_header=False,
        )
    finally:
        relay.stop()


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve_cmd(
        host: str = typer.Option(None, help="Interface to bind (default FINBRIDGE_HOST)."),
        port: int = typer.Option(None, help="Port (default FINBRIDGE_PORT, 8000)."),
    ) -> None:
        """Serve the API (/v1, /docs) and the console (/console)."""
        settings = Settings()
        base = f"http://{host or settings.host}:{port or settings.port}"
        console.print(f"[bold]finbridge[/] on {base}  docs {base}/docs  console {base}/console")
        platform = Platform.build(settings)
        try:
            serve_platform(platform, host=host, port=port)
        finally:
            platform.close()

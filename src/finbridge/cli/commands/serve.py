"""``finbridge serve``: run the API and the console with uvicorn (and the outbox relay)."""

from __future__ import annotations

import threading
import time
from typing import Any

import typer

from finbridge.cli.context import cli_settings, console
from finbridge.core.settings import Settings
from finbridge.platform import Platform


def serving_settings(settings: Settings) -> Settings:
    """The settings a served process runs with: risk decisions are committed in a child
    process when ``serve.risk_writer_process`` says so (what sustains 1,000 decisions/s on two
    cores); library use and the tests keep the in-process writer thread."""
    if not settings.serve.risk_writer_process or settings.risk.writer_process:
        return settings
    return settings.with_changes(risk=settings.risk.model_copy(update={"writer_process": True}))


def serve_platform(platform: Platform, *, host: str | None = None, port: int | None = None) -> None:
    """Serve the site on ``platform`` until interrupted, relaying events to the lake.

    The platform is warmed first (faces built, risk model loaded, writer process started), so
    the server answers nothing, ``/ready`` included, before the first request can be served
    as fast as the second.
    """
    import uvicorn

    from finbridge.cli.cob_loop import CobLoop
    from finbridge.cli.relay_loop import RelayLoop
    from finbridge.site import create_app

    serve = platform.settings.serve
    platform.warm()
    gateway = None
    if serve.gateway_port is not None:
        from finbridge.gateway import GatewayProcess

        # The decision gateway in its own process, on the same settings and database.
        gateway = GatewayProcess(
            platform.settings,
            host=host or serve.host,
            port=serve.gateway_port,
            writer_process=serve.risk_writer_process,
        ).start()
        gateway.wait_ready()
    relay = RelayLoop(platform).start()
    cob = CobLoop(platform).start() if platform.settings.lending.cob_on_serve else None
    try:
        uvicorn.run(
            create_app(platform=platform),
            host=host or serve.host,
            port=port or serve.port,
            log_level="info",
            server_header=False,
        )
    finally:
        relay.stop()
        if cob is not None:
            cob.stop()
        if gateway is not None:
            gateway.stop()


class BackgroundServer:
    """uvicorn in a worker thread, so the demo can seed the database while the app starts.

    Not in the main thread, uvicorn installs no signal handlers: :meth:`wait` turns Ctrl+C in
    the main thread into a graceful shutdown.
    """

    def __init__(
        self, platform: Platform, *, host: str | None = None, port: int | None = None
    ) -> None:
        self._platform = platform
        self._host = host or platform.settings.serve.host
        self._port = port or platform.settings.serve.port
        self._server: Any = None
        self._failed: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="uvicorn", daemon=True)

    def start(self) -> BackgroundServer:
        self._thread.start()
        return self

    def _run(self) -> None:
        import uvicorn

        from finbridge.site import create_app

        try:
            self._platform.warm()  # before binding: nothing is answered until it can be served
            config = uvicorn.Config(
                create_app(platform=self._platform),
                host=self._host,
                port=self._port,
                log_level="warning",
                server_header=False,
            )
            self._server = uvicorn.Server(config)
            self._server.run()
        except BaseException as exc:  # reported to the main thread by wait_started()
            self._failed = exc

    def wait_started(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while not (self._server is not None and self._server.started):
            if self._failed is not None or not self._thread.is_alive():
                raise RuntimeError(f"the server did not start: {self._failed!r}")
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not start in time")
            time.sleep(0.05)

    def wait(self) -> None:
        """Block until the server stops; Ctrl+C stops it gracefully."""
        try:
            while self._thread.is_alive():
                self._thread.join(0.5)
        except KeyboardInterrupt:
            self.stop()

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        self._thread.join(timeout=30)


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve_cmd(
        host: str = typer.Option(None, help="Interface to bind (default FINBRIDGE_SERVE__HOST)."),
        port: int = typer.Option(None, help="Port (default FINBRIDGE_SERVE__PORT, 8000)."),
    ) -> None:
        """Serve the API (/v1, /docs) and the console (/console)."""
        settings = serving_settings(cli_settings())
        base = f"http://{host or settings.serve.host}:{port or settings.serve.port}"
        console.print(f"[bold]finbridge[/] on {base}  docs {base}/docs  console {base}/console")
        platform = Platform.build(settings)
        try:
            serve_platform(platform, host=host, port=port)
        finally:
            platform.close()

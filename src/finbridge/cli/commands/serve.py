"""``finbridge serve``: run the API and the console with uvicorn (and the outbox relay)."""

from __future__ import annotations

import contextlib
import functools
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

import typer

from finbridge.cli.context import cli_settings, console
from finbridge.core.gc_tuning import tune_for_serving
from finbridge.core.settings import Settings
from finbridge.platform import Platform

GRACEFUL_SECONDS = 10


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

    from finbridge.cli.acquisition_loop import DeliveryLoop
    from finbridge.cli.cob_loop import CobLoop
    from finbridge.cli.openbanking_loop import WebhookLoop
    from finbridge.cli.relay_loop import RelayLoop
    from finbridge.site import create_app

    serve = platform.settings.serve
    platform.warm()
    tune_for_serving()  # full collections walked the start-up heap with every page waiting
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
    # The advisory models take tens of seconds to build: in the background, off the path to
    # /ready, so the server comes up at once and the model reads are cached before they come;
    # in a child process, so the build does not hold this process's GIL while pages are served.
    threading.Thread(
        target=functools.partial(platform.advisory.warm, child_process=True),
        name="advisory-models",
        daemon=True,
    ).start()
    relay = RelayLoop(platform).start()
    cob = CobLoop(platform).start() if platform.settings.lending.cob_on_serve else None
    outreach = (
        DeliveryLoop(platform).start() if platform.settings.acquisition.deliver_on_serve else None
    )
    webhooks = (
        WebhookLoop(platform).start() if platform.settings.openbanking.webhooks_on_serve else None
    )
    try:
        config = uvicorn.Config(
            create_app(platform=platform),
            host=host or serve.host,
            port=port or serve.port,
            log_level="info",
            server_header=False,
            # SIGINT/SIGTERM: stop taking requests, give running ones this long, then exit
            # (a long request, e.g. a close of business catching up, must not hold a stop).
            timeout_graceful_shutdown=GRACEFUL_SECONDS,
        )
        clean_stop_server(config).run()
    finally:
        relay.stop()
        if cob is not None:
            cob.stop()
        if outreach is not None:
            outreach.stop()
        if webhooks is not None:
            webhooks.stop()
        if gateway is not None:
            gateway.stop()


def clean_stop_server(config: Any) -> Any:
    """uvicorn's server, but SIGINT/SIGTERM end in a normal return (exit code 0) so the relay,
    the gateway and the platform are closed: uvicorn re-raises the signal once it has shut down,
    which killed ``serve`` (exit -15) before its clean-up ran."""
    import uvicorn

    class CleanStopServer(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            signals = (signal.SIGINT, signal.SIGTERM)
            previous = {sig: signal.signal(sig, self.handle_exit) for sig in signals}
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

    return CleanStopServer(config)


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
                timeout_graceful_shutdown=GRACEFUL_SECONDS,
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
        """Block until the server stops; SIGINT (Ctrl+C) or SIGTERM stops it gracefully.

        Our own handlers, installed here: a data library loaded while the demo seeded may have
        replaced Python's SIGINT handler (Ctrl+C was then ignored), and SIGTERM's default would
        kill the process without closing the platform.
        """
        stop = threading.Event()

        def on_signal(signum: int, frame: object) -> None:
            stop.set()

        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            while self._thread.is_alive() and not stop.is_set():
                self._thread.join(0.2)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if stop.is_set():
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

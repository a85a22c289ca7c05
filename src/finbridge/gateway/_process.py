"""Serving the gateway: in this process (``finbridge gateway``) or as a child of ``serve``.

The gateway is its own process so that what it tunes for decision volume stays there: the
decision writer in a child process, no access log. The garbage collector's thresholds
(``core/gc_tuning.py``) are the same as the site's under ``serve``.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import time
import urllib.error
import urllib.request
from multiprocessing.process import BaseProcess

from finbridge.core.gc_tuning import tune_for_serving
from finbridge.core.settings import Settings

STARTUP_TIMEOUT_S = 120.0


def gateway_settings(settings: Settings, *, writer_process: bool) -> Settings:
    """``settings`` with the decision writer in a child process on or off, as asked."""
    if settings.risk.writer_process == writer_process:
        return settings
    risk = settings.risk.model_copy(update={"writer_process": writer_process})
    return settings.with_changes(risk=risk)


def run_gateway(settings: Settings, *, host: str, port: int, writer_process: bool) -> None:
    """Serve the decision gateway on ``host:port`` until interrupted (blocks)."""
    import uvicorn

    from finbridge.gateway._app import create_gateway
    from finbridge.platform import Platform

    tune_for_serving()  # why, and what was measured: core/gc_tuning.py
    platform = Platform.build(gateway_settings(settings, writer_process=writer_process))
    uvicorn.run(
        create_gateway(platform, owns_platform=True),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,  # every decision is stored with its event; a log line adds nothing
        server_header=False,
        lifespan="on",
    )


class GatewayProcess:
    """The gateway in a child process (what ``finbridge serve`` starts when
    ``settings.serve.gateway_port`` is set): settings passed as an object, not through the
    environment."""

    def __init__(self, settings: Settings, *, host: str, port: int, writer_process: bool) -> None:
        self.host, self.port = host, port
        context = multiprocessing.get_context("spawn")  # no inherited threads or connections
        # Not a daemon: the gateway starts its own child, the decision writer process.
        self._process: BaseProcess = context.Process(
            target=run_gateway,
            args=(settings,),
            kwargs={"host": host, "port": port, "writer_process": writer_process},
            name="finbridge-gateway",
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> GatewayProcess:
        self._process.start()
        return self

    def wait_ready(self, timeout: float = STARTUP_TIMEOUT_S) -> None:
        """Block until ``/ready`` answers 200 (the model is loaded, the writer started)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._process.is_alive():
                raise RuntimeError(f"the gateway exited with code {self._process.exitcode}")
            with contextlib.suppress(OSError, urllib.error.URLError, ValueError):
                with urllib.request.urlopen(f"{self.url}/ready", timeout=2) as answer:  # noqa: S310
                    if answer.status == 200 and json.load(answer)["status"] == "ready":
                        return
            time.sleep(0.1)
        raise RuntimeError("the gateway did not become ready in time")

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the gateway to shut down (SIGTERM: uvicorn drains, the platform flushes)."""
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(timeout)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(5)

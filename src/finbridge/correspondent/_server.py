"""Serving the correspondent: uvicorn with mutual TLS (only the partnership CA's certificates
connect; the correspondent presents the ``partner`` certificate)."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import uvicorn

from finbridge.core.tls import tls_context
from finbridge.correspondent._app import Outbox, create_correspondent_app
from finbridge.payments import SimulatedCorrespondent


class CorrespondentServer:
    """The correspondent's HTTPS endpoint; the port is bound at construction (0: any free)."""

    def __init__(
        self,
        bank: SimulatedCorrespondent,
        cert_dir: Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        seconds_per_day: float = 86_400.0,
    ) -> None:
        self.outbox = Outbox(seconds_per_day)
        context = tls_context(cert_dir, "partner", server=True)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        # Listening before serving: a client that read our address may connect at once (the
        # kernel queues it until uvicorn accepts).
        self._sock.listen(128)
        config = uvicorn.Config(
            create_correspondent_app(bank, self.outbox), lifespan="off", log_level="warning",
            access_log=False, timeout_graceful_shutdown=2,
            ssl_context_factory=lambda _config, _default: context,
        )  # fmt: skip
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._sock.getsockname()[:2]
        return f"https://{host!s}:{port}"

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted (Ctrl-C or SIGTERM stops it)."""
        self._server.run(sockets=[self._sock])

    def serve_in_background(self, *, timeout: float = 10.0) -> CorrespondentServer:
        """Serve from a daemon thread (tests, a demo); returns once it accepts connections."""
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started and self._thread.is_alive():
            if time.monotonic() > deadline:
                break
            time.sleep(0.01)
        if not self._server.started:
            raise RuntimeError("the correspondent did not start")
        return self

    def close(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._sock.close()

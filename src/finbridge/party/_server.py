"""Serving a party: uvicorn with mutual TLS, certificates reloaded without a restart.

Every TLS handshake first checks (one ``stat`` per file) whether the certificate files changed;
if they did, the handshake switches to a context built from the new files, so renewed
certificates (``finbridge credit joint certs --renew``) serve new connections at once while
open connections finish on the old ones: no downtime for the other party. The server warns in
its log when its certificate is within ``warn_days`` of expiry: at start, on every reload, and
at most hourly while it serves (a server started 60 days before expiry still warns at 30).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from finbridge.credit import PartyEndpoint, days_left, tls_context
from finbridge.party._app import TLS_EXTENSION, create_party_app

log = logging.getLogger("finbridge.party")
EXPIRY_CHECK_SECONDS = 3600.0


class ReloadingTLS:
    """The server's TLS context, swapped for a fresh one when the certificate files change."""

    def __init__(self, cert_dir: Path, role: str, *, warn_days: int = 30) -> None:
        self.cert_dir = cert_dir
        self.role = role
        self.warn_days = warn_days
        self._lock = threading.Lock()
        self._stamp = self._files_stamp()
        self.context = self._build()
        self._latest = self.context
        self._check_expiry()

    def _files(self) -> tuple[Path, ...]:
        d, r = self.cert_dir, self.role
        return (d / f"{r}.pem", d / f"{r}.key", d / "ca.pem")

    def _files_stamp(self) -> tuple[int, ...]:
        return tuple(p.stat().st_mtime_ns for p in self._files())

    def _build(self) -> ssl.SSLContext:
        ctx = tls_context(self.cert_dir, self.role, server=True)
        ctx.sni_callback = self._on_hello
        return ctx

    def warn_if_expiring(self) -> float:
        left = days_left(self.cert_dir / f"{self.role}.pem")
        if left < self.warn_days:
            log.warning(
                "the %s certificate in %s expires in %.1f days; renew it with "
                "`finbridge credit joint certs --renew %s` (no restart needed)",
                self.role, self.cert_dir, left, self.cert_dir,
            )  # fmt: skip
        return left

    def _check_expiry(self) -> None:
        self.warn_if_expiring()
        self._next_expiry_check = time.monotonic() + EXPIRY_CHECK_SECONDS

    def current(self) -> ssl.SSLContext:
        """The context for the next handshake, rebuilt if the files changed since."""
        with self._lock:
            try:
                stamp = self._files_stamp()
                if stamp != self._stamp:
                    self._latest = self._build()
                    self._stamp = stamp
                    log.info("reloaded the %s certificate from %s", self.role, self.cert_dir)
                    self._check_expiry()
                elif time.monotonic() >= self._next_expiry_check:
                    self._check_expiry()
            except (OSError, ssl.SSLError) as exc:
                # Caught between the key and the certificate being replaced: keep serving the
                # pair that works and try again on the next handshake.
                log.warning("certificate reload deferred: %s", exc)
            return self._latest

    def _on_hello(self, conn: Any, _server_name: str | None, _ctx: ssl.SSLContext) -> None:
        # Called for every ClientHello (with or without SNI), before the certificate is sent.
        latest = self.current()
        if conn.context is not latest:
            conn.context = latest


def _common_name(cert: dict[str, Any] | None) -> str | None:
    for rdn in (cert or {}).get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return None


class _MutualTLSProtocol(H11Protocol):
    """uvicorn's h11 protocol, passing the verified client certificate's name to the app.

    uvicorn does not fill the ASGI TLS extension; the client certificate has already been
    verified against the partnership CA when the connection is made.
    """

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        name = _common_name(transport.get_extra_info("peercert"))
        tls = {"client_cert_name": f"CN={name}" if name else None}
        inner = self.app

        async def app(scope: Any, receive: Any, send: Any) -> None:
            scope.setdefault("extensions", {})[TLS_EXTENSION] = tls
            await inner(scope, receive, send)

        self.app = app


class PartyServer:
    """One party's HTTPS endpoint over ``endpoint``; the port is bound at construction."""

    def __init__(
        self,
        endpoint: PartyEndpoint,
        cert_dir: Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        warn_days: int = 30,
    ) -> None:
        self.endpoint = endpoint
        self.tls = ReloadingTLS(cert_dir, endpoint.role, warn_days=warn_days)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        config = uvicorn.Config(
            create_party_app(endpoint),
            http=_MutualTLSProtocol,
            lifespan="off",
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=2,
            ssl_context_factory=lambda _config, _default: self.tls.context,
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._sock.getsockname()[:2]
        return f"https://{host!s}:{port}"

    def serve_in_background(self, *, timeout: float = 10.0) -> PartyServer:
        """Serve from a daemon thread; returns once the server accepts connections."""
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started and self._thread.is_alive():
            if time.monotonic() > deadline:
                break
            time.sleep(0.01)
        if not self._server.started:
            raise RuntimeError(f"the {self.endpoint.role} party server did not start")
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted (Ctrl-C stops it)."""
        self._server.run(sockets=[self._sock])

    def close(self) -> None:
        """Stop serving; open keep-alive connections are closed (as a dead process would)."""
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._sock.close()

"""A party's network endpoint: HTTPS with mutual TLS on loopback, a mailbox and job status.

Each party (bank, partner) runs one :class:`PartyServer`. The other party POSTs protocol frames
to ``/mailbox/<job>/<topic>``; jobs are started with ``POST /jobs`` and report progress at
``GET /jobs/<id>`` on both sides. Both ends present certificates signed by the partnership's CA
(:mod:`finbridge.credit.pki`), and the server checks that the client's certificate names the
expected peer role, so only the partner can speak to the bank's endpoint and vice versa.

Plain ``http.server`` on purpose: the protocol needs a byte mailbox, not a web framework, and the
engine layer must not import one.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from finbridge.core.errors import FinbridgeError, ValidationError
from finbridge.credit.pki import ROLES, tls_context
from finbridge.credit.transport import Channel, Mailbox, PartyUnreachable

MAX_FRAME = 64 * 1024 * 1024
PUBLIC_STATUS = ("job_id", "state", "stage", "progress", "role", "initiator", "peer")


def peer_of(role: str) -> str:
    if role not in ROLES:
        raise ValidationError(f"role must be one of {ROLES}", field="role")
    return "partner" if role == "bank" else "bank"


def _common_name(cert: dict[str, Any] | None) -> str | None:
    for rdn in (cert or {}).get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return None


JobStarter = Callable[[dict[str, Any]], str]


class PartyServer:
    """The HTTPS endpoint of one party; ``start_job`` is called for ``POST /jobs``."""

    def __init__(
        self,
        role: str,
        cert_dir: Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        start_job: JobStarter | None = None,
        score: Callable[[str, dict[str, Any]], dict[str, Any]] | None = None,
    ) -> None:
        self.role = role
        self.score = score
        self.peer_role = peer_of(role)
        self.mailbox = Mailbox()
        self.jobs: dict[str, dict[str, Any]] = {}
        self.jobs_lock = threading.Lock()
        self.start_job = start_job
        self.connections: set[Any] = set()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def setup(self) -> None:
                super().setup()
                with server.jobs_lock:
                    server.connections.add(self.connection)

            def finish(self) -> None:
                with server.jobs_lock:
                    server.connections.discard(self.connection)
                super().finish()

            def _reply(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _caller(self) -> str | None:
                return _common_name(self.connection.getpeercert())  # type: ignore[attr-defined]

            def _body(self) -> bytes:
                length = int(self.headers.get("Content-Length", "0"))
                if length > MAX_FRAME:
                    raise ValidationError("frame too large", field="body")
                return self.rfile.read(length)

            def do_GET(self) -> None:
                parts = self.path.strip("/").split("/")
                if parts == ["health"]:
                    return self._reply(200, {"role": server.role, "status": "ok"})
                if len(parts) == 2 and parts[0] == "jobs":
                    with server.jobs_lock:
                        job = server.jobs.get(parts[1])
                        snapshot = dict(job) if job else None
                    if snapshot is None:
                        return self._reply(404, {"detail": "no such job"})
                    if self._caller() != server.role:
                        # The other party sees progress only; results stay with their owner.
                        snapshot = {k: snapshot.get(k) for k in PUBLIC_STATUS}
                    return self._reply(200, snapshot)
                return self._reply(404, {"detail": "not found"})

            def do_POST(self) -> None:
                parts = self.path.strip("/").split("/")
                caller = self._caller()
                try:
                    body = self._body()
                except ValidationError as exc:
                    return self._reply(413, {"detail": str(exc)})
                if len(parts) == 3 and parts[0] == "mailbox":
                    if caller != server.peer_role:
                        return self._reply(403, {"detail": f"{caller} may not post here"})
                    server.mailbox.put(parts[1], parts[2], body)
                    return self._reply(202, {})
                if len(parts) == 3 and parts[0] == "jobs" and parts[2] == "progress":
                    if caller != server.peer_role:
                        return self._reply(403, {"detail": f"{caller} may not post here"})
                    server.update(parts[1], peer=json.loads(body))
                    return self._reply(202, {})
                if len(parts) == 2 and parts[0] == "score" and server.score is not None:
                    if caller != server.peer_role:
                        return self._reply(403, {"detail": f"{caller} may not score here"})
                    try:
                        return self._reply(200, server.score(parts[1], json.loads(body)))
                    except FinbridgeError as exc:
                        return self._reply(404, {"detail": str(exc)})
                if parts == ["jobs"] and server.start_job is not None:
                    # The local operator (own certificate) or the peer may start a job.
                    try:
                        job_id = server.start_job({**json.loads(body), "requested_by": caller})
                    except (ValidationError, ValueError, TypeError) as exc:
                        return self._reply(422, {"detail": str(exc)})
                    except FinbridgeError as exc:
                        return self._reply(503, {"detail": str(exc)})
                    return self._reply(202, {"job_id": job_id})
                return self._reply(404, {"detail": "not found"})

        self._httpd = ThreadingHTTPServer((host, port), Handler)
        self._httpd.daemon_threads = True
        ctx = tls_context(cert_dir, role, server=True)
        self._httpd.socket = ctx.wrap_socket(self._httpd.socket, server_side=True)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"https://{host!s}:{port}"

    def update(self, job_id: str, **fields: Any) -> None:
        with self.jobs_lock:
            self.jobs.setdefault(job_id, {"job_id": job_id}).update(fields)

    def serve_in_background(self) -> PartyServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._httpd.serve_forever()

    def close(self) -> None:
        """Stop serving and drop open keep-alive connections (as a dead process would)."""
        self._httpd.shutdown()
        self._httpd.server_close()
        with self.jobs_lock:
            open_connections = list(self.connections)
        for conn in open_connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


@dataclass
class PeerLink:
    """HTTPS client to the other party, one keep-alive connection per thread."""

    url: str
    cert_dir: Path
    role: str
    timeout: float = 30.0

    def __post_init__(self) -> None:
        self._ctx = tls_context(self.cert_dir, self.role, server=False)
        self._local = threading.local()
        target = self.url.removeprefix("https://").rstrip("/")
        host, _, port = target.rpartition(":")
        self._host, self._port = host, int(port)

    def _conn(self) -> http.client.HTTPSConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = http.client.HTTPSConnection(
                self._host, self._port, context=self._ctx, timeout=self.timeout
            )
            self._local.conn = conn
        return conn  # type: ignore[no-any-return]

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        for attempt in range(2):
            conn = self._conn()
            try:
                conn.request(method, path, body=body)
                resp = conn.getresponse()
                return resp.status, resp.read()
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                self._local.conn = None
                if attempt == 1 or isinstance(exc, ssl.SSLError):
                    raise PartyUnreachable(f"{self.url} unreachable: {exc}") from None
        raise AssertionError("unreachable")  # pragma: no cover

    def post(self, path: str, body: bytes) -> dict[str, Any]:
        status, data = self.request("POST", path, body)
        if status >= 300:
            raise PartyUnreachable(f"{self.url}{path} answered {status}: {data[:200]!r}")
        return json.loads(data or b"{}")  # type: ignore[no-any-return]

    def get(self, path: str) -> dict[str, Any]:
        status, data = self.request("GET", path)
        if status >= 300:
            raise PartyUnreachable(f"{self.url}{path} answered {status}")
        return json.loads(data)  # type: ignore[no-any-return]


def https_channel(
    server: PartyServer, peer: PeerLink, job: str, key: bytes, *, timeout: float = 120.0
) -> Channel:
    """A protocol channel whose frames travel as HTTPS POSTs to the peer's mailbox."""

    def deliver(topic: str, frame: bytes) -> None:
        peer.post(f"/mailbox/{job}/{topic}", frame)

    return Channel(job, key, server.mailbox, deliver, timeout=timeout)

"""How two parties talk: authenticated, ordered messages by topic, in-process or over HTTPS.

Every message is framed as ``topic | seq | HMAC | payload``. The HMAC (keyed with the job key
both parties agreed at job start) covers job id, topic, sequence number and payload, so a message
altered, replayed or reordered in flight is refused with :class:`TamperedMessage` instead of being
fed to the protocol. The same framing runs over an in-process pair (tests) and over HTTPS with
mutual TLS between two processes: :class:`PeerLink` is the client side here, the receiving side
is a party server (``finbridge.party``) handing frames to a :class:`Mailbox`.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import queue
import ssl
import struct
import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from finbridge.core.errors import FinbridgeError, ServiceUnavailable
from finbridge.core.tls import tls_context

DEFAULT_TIMEOUT_S = 120.0


class PartyUnreachable(ServiceUnavailable):
    """The other party did not answer in time or refused the connection."""

    code = "party_unreachable"
    title = "Partner unreachable"


class TamperedMessage(FinbridgeError):
    """A message failed its authentication check or arrived out of order."""

    code = "tampered_message"
    title = "Message failed authentication"


class Mailbox:
    """Incoming frames by (job, topic); a receiver blocks until its topic has a frame."""

    def __init__(self) -> None:
        self._queues: dict[tuple[str, str], queue.Queue[bytes]] = defaultdict(queue.Queue)
        self._lock = threading.Lock()

    def _q(self, job: str, topic: str) -> queue.Queue[bytes]:
        with self._lock:
            return self._queues[(job, topic)]

    def put(self, job: str, topic: str, frame: bytes) -> None:
        self._q(job, topic).put(frame)

    def get(self, job: str, topic: str, timeout: float) -> bytes:
        try:
            return self._q(job, topic).get(timeout=timeout)
        except queue.Empty:
            raise PartyUnreachable(
                f"no {topic!r} message from the other party within {timeout:.0f}s"
            ) from None

    def drop_job(self, job: str) -> None:
        with self._lock:
            for key in [k for k in self._queues if k[0] == job]:
                del self._queues[key]


_SEQ = struct.Struct(">Q")


def _mac(key: bytes, job: str, topic: str, seq: int, payload: bytes) -> bytes:
    h = hmac.new(key, digestmod=hashlib.sha256)
    h.update(job.encode() + b"\x00" + topic.encode() + b"\x00" + _SEQ.pack(seq))
    h.update(payload)
    return h.digest()


@dataclass
class Channel:
    """One party's end of a job's conversation.

    ``deliver(topic, frame)`` hands a frame to the other party; ``tap`` (if set) sees every
    (topic, payload) sent, which is how the leakage test inspects all traffic.
    """

    job: str
    key: bytes
    inbox: Mailbox
    deliver: Callable[[str, bytes], None]
    timeout: float = DEFAULT_TIMEOUT_S
    tap: Callable[[str, bytes], None] | None = None
    bytes_sent: int = 0
    _send_seq: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    _recv_seq: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def send(self, topic: str, payload: bytes) -> None:
        seq = self._send_seq[topic]
        self._send_seq[topic] = seq + 1
        frame = _SEQ.pack(seq) + _mac(self.key, self.job, topic, seq, payload) + payload
        if self.tap is not None:
            self.tap(topic, payload)
        self.bytes_sent += len(frame)
        self.deliver(topic, frame)

    def recv(self, topic: str, timeout: float | None = None) -> bytes:
        frame = self.inbox.get(self.job, topic, self.timeout if timeout is None else timeout)
        if len(frame) < 40:
            raise TamperedMessage(f"truncated {topic!r} message")
        (seq,) = _SEQ.unpack(frame[:8])
        mac, payload = frame[8:40], frame[40:]
        expected = self._recv_seq[topic]
        if not hmac.compare_digest(mac, _mac(self.key, self.job, topic, seq, payload)):
            raise TamperedMessage(f"{topic!r} message #{seq} failed its authentication check")
        if seq != expected:
            raise TamperedMessage(f"{topic!r} message #{seq} arrived, expected #{expected}")
        self._recv_seq[topic] = expected + 1
        return payload


def channel_pair(
    job: str = "job",
    key: bytes = b"k" * 32,
    *,
    timeout: float = 10.0,
    tap: Callable[[str, str, bytes], None] | None = None,
    intercept: Callable[[str, str, bytes], bytes | None] | None = None,
) -> tuple[Channel, Channel]:
    """Two connected in-process channels (names 'bank' and 'partner').

    ``tap(sender, topic, payload)`` records traffic; ``intercept(sender, topic, frame)`` may
    return altered bytes (tampering) or None to drop the frame (a party that went away).
    """
    boxes = {"bank": Mailbox(), "partner": Mailbox()}

    def make(me: str, peer: str) -> Channel:
        def deliver(topic: str, frame: bytes) -> None:
            if intercept is not None:
                altered = intercept(me, topic, frame)
                if altered is None:
                    return
                frame = altered
            boxes[peer].put(job, topic, frame)

        return Channel(
            job,
            key,
            boxes[me],
            deliver,
            timeout=timeout,
            tap=(lambda t, p: tap(me, t, p)) if tap else None,
        )

    return make("bank", "partner"), make("partner", "bank")


# -- the HTTPS client side ---------------------------------------------------------------------


def _files_stamp(cert_dir: Path, role: str) -> tuple[int, ...]:
    names = (f"{role}.pem", f"{role}.key", "ca.pem")
    return tuple((cert_dir / n).stat().st_mtime_ns for n in names)


@dataclass
class PeerLink:
    """HTTPS client to the other party, one keep-alive connection per thread.

    A renewed certificate in ``cert_dir`` is used from the next new connection on, so
    renewing certificates never needs a restart of the process holding the link.
    """

    url: str
    cert_dir: Path
    role: str
    timeout: float = 30.0

    def __post_init__(self) -> None:
        self._stamp = _files_stamp(self.cert_dir, self.role)
        self._ctx = tls_context(self.cert_dir, self.role, server=False)
        self._ctx_lock = threading.Lock()
        self._local = threading.local()
        target = self.url.removeprefix("https://").rstrip("/")
        host, _, port = target.rpartition(":")
        self._host, self._port = host, int(port)

    def _context(self) -> ssl.SSLContext:
        with self._ctx_lock:
            try:
                stamp = _files_stamp(self.cert_dir, self.role)
                if stamp != self._stamp:
                    self._ctx = tls_context(self.cert_dir, self.role, server=False)
                    self._stamp = stamp
            except (OSError, ssl.SSLError):
                pass  # caught mid-renewal: keep the pair that worked, retry next connection
            return self._ctx

    def _conn(self) -> http.client.HTTPSConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = http.client.HTTPSConnection(
                self._host, self._port, context=self._context(), timeout=self.timeout
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
    inbox: Mailbox, peer: PeerLink, job: str, key: bytes, *, timeout: float = 120.0
) -> Channel:
    """A protocol channel whose frames travel as HTTPS POSTs to the peer's mailbox."""

    def deliver(topic: str, frame: bytes) -> None:
        peer.post(f"/mailbox/{job}/{topic}", frame)

    return Channel(job, key, inbox, deliver, timeout=timeout)

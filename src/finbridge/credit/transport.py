"""How two parties talk: authenticated, ordered messages by topic, in-process or over HTTPS.

Every message is framed as ``topic | seq | HMAC | payload``. The HMAC (keyed with the job key
both parties agreed at job start) covers job id, topic, sequence number and payload, so a message
altered, replayed or reordered in flight is refused with :class:`TamperedMessage` instead of being
fed to the protocol. The same framing runs over an in-process pair (tests) and over HTTPS with
mutual TLS between two processes (:mod:`finbridge.credit.party`).
"""

from __future__ import annotations

import hashlib
import hmac
import queue
import struct
import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from finbridge.core.errors import FinbridgeError, ServiceUnavailable

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

"""ECDH private set intersection on X25519, streamed in batches, result to one named party.

Each party hashes its normalised join keys with a keyed BLAKE2b (the key is agreed per job, so
nobody outside the job can precompute a dictionary of phone numbers) and treats the 32-byte hash
as an X25519 u-coordinate. X25519 scalar multiplication commutes,
X25519(a, X25519(b, P)) == X25519(b, X25519(a, P)), so:

1. both parties blind their own hashes with a secret scalar and send them (the *sender* shuffles
   first, so positions say nothing);
2. the sender blinds the receiver's points a second time and returns them in order, truncated to
   16 bytes; the receiver blinds the sender's points a second time;
3. the receiver matches the two doubly-blinded lists and learns which of its own ids are shared.

Only blinded points cross the wire; the sender learns the receiver's set size and nothing else.
Blinding runs in a process pool when ``workers > 1``.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import queue
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from finbridge.core.errors import BusinessRuleViolation, ValidationError
from finbridge.credit.transport import Channel

POINT = 32
MATCH_BYTES = 16  # doubly-blinded values returned truncated: 2^-128 false-match odds per pair
DEFAULT_BATCH = 65_536
Progress = Callable[[str, float], None]


class NoOverlap(BusinessRuleViolation):
    code = "no_overlap"
    title = "The parties share no customers"


def normalise(value: object, kind: str = "raw") -> str:
    """Canonical form of a join key so both parties hash the same bytes for the same person.

    ``phone``: digits only, mainland mobile numbers prefixed with 86; ``id_number``: no spaces,
    upper case (the check character X); ``raw``: trimmed and case-folded.
    """
    text = str(value).strip()
    if kind == "phone":
        digits = re.sub(r"\D", "", text)
        if len(digits) == 11 and digits.startswith("1"):
            digits = "86" + digits
        if len(digits) < 6:
            raise ValidationError(f"{value!r} is not a phone number", field="phone")
        return digits
    if kind == "id_number":
        out = re.sub(r"\s", "", text).upper()
        if not out:
            raise ValidationError("empty ID number", field="id_number")
        return out
    if kind == "raw":
        return text.casefold()
    raise ValidationError(f"unknown join key kind {kind!r}", field="kind")


def hash_points(hash_key: bytes, ids: Iterable[object], kind: str = "raw") -> list[bytes]:
    out = []
    for v in ids:
        h = hashlib.blake2b(normalise(v, kind).encode(), digest_size=POINT, key=hash_key)
        out.append(h.digest())
    return out


def _blind(private: bytes, points: bytes, truncate: int = POINT) -> bytes:
    key = X25519PrivateKey.from_private_bytes(private)
    from_bytes = X25519PublicKey.from_public_bytes
    out = bytearray()
    for i in range(0, len(points), POINT):
        try:
            out += key.exchange(from_bytes(points[i : i + POINT]))[:truncate]
        except ValueError:  # a low-order point: only a malicious peer can produce one
            raise ValidationError("received a low-order curve point", field="points") from None
    return bytes(out)


def bare_scalar_mults(points: Sequence[bytes], private: bytes) -> None:
    """The protocol's curve work alone (for the benchmark's ratio)."""
    _blind(private, b"".join(points))


class Blinder:
    """A secret X25519 scalar applied to batches of points, optionally in worker processes."""

    def __init__(self, workers: int = 1) -> None:
        self._private = X25519PrivateKey.generate().private_bytes_raw()
        # spawn, not fork: a party process runs server threads (see paillier.ParallelEncryptor)
        ctx = multiprocessing.get_context("spawn")
        self._pool = ProcessPoolExecutor(workers, mp_context=ctx) if workers > 1 else None

    def blind_stream(self, batches: Iterable[bytes], truncate: int = POINT) -> Iterator[bytes]:
        if self._pool is None:
            for b in batches:
                yield _blind(self._private, b, truncate)
            return
        pending: list = []
        for b in batches:
            pending.append(self._pool.submit(_blind, self._private, b, truncate))
            if len(pending) > 4:
                yield pending.pop(0).result()
        for f in pending:
            yield f.result()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)


@dataclass(frozen=True)
class PsiResult:
    """What one party learnt: the receiver gets the shared ids, the sender only the sizes."""

    role: str
    own_size: int
    peer_size: int
    shared: list[str] | None
    bytes_sent: int
    seconds: float
    # receiver: for each shared id, its position in the sender's shuffled list (to align rows)
    peer_positions: list[int] | None = None
    # sender: its shuffled position -> index in its own id list (kept private)
    order: list[int] | None = None


def _batches(points: Sequence[bytes], size: int) -> Iterator[bytes]:
    for i in range(0, len(points), size):
        yield b"".join(points[i : i + size])


class _AsyncSender:
    """Sends on a background thread so blinding and transfer overlap."""

    def __init__(self, channel: Channel) -> None:
        self._q: queue.Queue[tuple[str, bytes] | None] = queue.Queue(maxsize=8)
        self._error: BaseException | None = None
        self._channel = channel
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (item := self._q.get()) is not None:
            if self._error is None:
                try:
                    self._channel.send(*item)
                except BaseException as exc:  # surfaced to the caller in put()/close()
                    self._error = exc

    def put(self, topic: str, payload: bytes) -> None:
        if self._error is not None:
            raise self._error
        self._q.put((topic, payload))

    def close(self) -> None:
        self._q.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error


def run_psi(
    channel: Channel,
    role: str,
    ids: Sequence[object],
    *,
    hash_key: bytes,
    kind: str = "raw",
    batch: int = DEFAULT_BATCH,
    workers: int = 1,
    progress: Progress | None = None,
) -> PsiResult:
    """Run one side of the PSI. ``role`` is 'receiver' (gets the result) or 'sender'."""
    if role not in ("receiver", "sender"):
        raise ValidationError("role must be 'receiver' or 'sender'", field="role")
    if len(hash_key) < 16:
        raise ValidationError("hash key must be at least 16 bytes", field="hash_key")
    started = time.perf_counter()
    report = progress or (lambda _stage, _frac: None)
    ids = list(ids)
    points = hash_points(hash_key, ids, kind)
    order = list(range(len(points)))
    if role == "sender":
        random.SystemRandom().shuffle(order)
        points = [points[i] for i in order]
    n_batches = -(-len(points) // batch)
    channel.send("psi.hello", json.dumps({"n": len(points), "batches": n_batches}).encode())
    hello = json.loads(channel.recv("psi.hello"))
    peer_n, peer_batches = int(hello["n"]), int(hello["batches"])
    blinder = Blinder(workers)
    out = _AsyncSender(channel)
    try:
        for k, blinded in enumerate(blinder.blind_stream(_batches(points, batch))):
            out.put("psi.own", blinded)
            report("blind own", (k + 1) / max(n_batches, 1) / 3)
        incoming = (channel.recv("psi.own") for _ in range(peer_batches))
        if role == "sender":
            for k, twice in enumerate(blinder.blind_stream(incoming, MATCH_BYTES)):
                out.put("psi.double", twice)
                report("blind peer", 1 / 3 + (k + 1) / max(peer_batches, 1) * 2 / 3)
            out.close()
            report("done", 1.0)
            return PsiResult(
                role,
                len(ids),
                peer_n,
                None,
                channel.bytes_sent,
                time.perf_counter() - started,
                order=order,
            )
        peer_pos: dict[bytes, int] = {}
        base = 0
        for k, twice in enumerate(blinder.blind_stream(incoming, MATCH_BYTES)):
            for i in range(0, len(twice), MATCH_BYTES):
                peer_pos[twice[i : i + MATCH_BYTES]] = base + i // MATCH_BYTES
            base += len(twice) // MATCH_BYTES
            report("blind peer", 1 / 3 + (k + 1) / max(peer_batches, 1) / 3)
        out.close()
        shared: list[str] = []
        positions: list[int] = []
        pos = 0
        for k in range(n_batches):
            mine = channel.recv("psi.double")
            for i in range(0, len(mine), MATCH_BYTES):
                hit = peer_pos.get(mine[i : i + MATCH_BYTES])
                if hit is not None:
                    shared.append(str(ids[pos]))
                    positions.append(hit)
                pos += 1
            report("match", 2 / 3 + (k + 1) / max(n_batches, 1) / 3)
        if pos != len(ids):
            raise ValidationError("the peer returned the wrong number of points", field="points")
        report("done", 1.0)
        return PsiResult(
            role,
            len(ids),
            peer_n,
            shared,
            channel.bytes_sent,
            time.perf_counter() - started,
            peer_positions=positions,
        )
    finally:
        blinder.close()


def require_overlap(result: PsiResult, minimum: int = 1) -> list[str]:
    if result.shared is None:
        raise ValidationError("only the receiving party learns the intersection", field="role")
    if len(result.shared) < minimum:
        raise NoOverlap(
            f"the parties share {len(result.shared)} customers; at least {minimum} needed"
        )
    return result.shared

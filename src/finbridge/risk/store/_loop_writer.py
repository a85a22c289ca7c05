"""Group commit from an event loop to the writer process, with no thread in this process.

With a writer *thread* between the loop and the writer process, every decision handed over woke
that thread, and the two threads then traded the GIL: on a busy 2-core machine a queue ``put``
cost 0.17 ms and the SQLite probe, which releases the GIL, as much again before the loop got it
back (cProfile of the gateway at load, 5,000 decisions). Here the loop itself talks to the writer
process through pipes it watches with ``add_reader``/``add_writer``: decisions made while
batches are being committed wait for the next batch, so a burst shares one commit and no thread
ever competes with the loop. Two batches may be in flight, so the child finds the next batch
waiting when it finishes a commit instead of waiting for this process to be scheduled.

A decision's wait is one future, resolved when its batch is answered: no ``wait_for`` and
``shield`` per decision (a timer handle, a callback and a second future each: 3 % of the serving
process's CPU at capacity, py-spy), but one watchdog timer while anything is outstanding, which
fails what waited longer than ``COMMIT_TIMEOUT_S``. Bundles handed over in one loop turn leave
as one batch on the next (a decision micro-batch is one pickling and one transaction).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import struct
from collections import deque
from collections.abc import Callable
from multiprocessing.connection import Connection

from sqlalchemy.exc import IntegrityError

from finbridge.core.errors import ServiceUnavailable
from finbridge.risk.decisions._port import Writes
from finbridge.risk.store._group_commit import COMMIT_TIMEOUT_S
from finbridge.risk.store._process import pack

# (bundle, its commit's future, the loop time it was handed over)
_Batch = list[tuple[Writes, "asyncio.Future[None]", float]]
_WATCH_EVERY_S = 1.0


class LoopWriter:
    """Commits ``Writes`` through the writer process's loop pipes, batch by batch.

    ``batches`` is written without ever blocking the loop (a batch larger than the pipe's
    buffer is finished by ``add_writer`` as the child reads it), in ``Connection``'s framing so
    the child reads it with ``recv``; ``answers`` is read when the loop sees it readable.
    """

    def __init__(
        self,
        batches: Connection,
        answers: Connection,
        max_batch: int = 256,
        depth: int = 2,
        duplicate: Callable[[str], BaseException] | None = None,
    ) -> None:
        self._batches = batches
        self._conn = answers
        self._out_fd = batches.fileno()
        os.set_blocking(self._out_fd, False)
        self._unsent = memoryview(b"")
        self._max = max_batch
        self._loop: asyncio.AbstractEventLoop | None = None
        self._depth = depth
        self._waiting: _Batch = []
        self._in_flight: deque[_Batch] = deque()
        self._broken: str | None = None
        self._singles = 0  # bundles to send one at a time (after a batch hit a duplicate)
        self._duplicate = duplicate or _integrity_error
        self._send_soon = False  # a send is scheduled for the next loop turn
        self._watch: asyncio.TimerHandle | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The loop this writer serves, while it runs (None before the first decision)."""
        loop = self._loop
        return loop if loop is not None and loop.is_running() else None

    async def submit(self, bundle: Writes) -> None:
        """Wait until the batch carrying ``bundle`` is committed."""
        await self.enqueue(bundle)

    def enqueue(self, bundle: Writes) -> asyncio.Future[None]:
        """Hand ``bundle`` over; the future resolves once its batch is committed (a duplicate
        event: the ``duplicate`` error; no answer within ``COMMIT_TIMEOUT_S``:
        ``ServiceUnavailable``). Must be called on the loop's thread."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._bind(loop)
        if self._broken is not None:
            raise ServiceUnavailable(self._broken)
        done: asyncio.Future[None] = loop.create_future()
        self._waiting.append((bundle, done, loop.time()))
        if not self._send_soon:
            self._send_soon = True
            loop.call_soon(self._send_turn)
        if self._watch is None:
            self._watch = loop.call_later(_WATCH_EVERY_S, self._expire)
        return done

    def _send_turn(self) -> None:
        self._send_soon = False
        if len(self._in_flight) < self._depth and not self._unsent:
            self._send_next()

    def _expire(self) -> None:
        """Fail what waited longer than ``COMMIT_TIMEOUT_S`` (a stuck writer); re-arm while
        anything is outstanding. A late answer finds those futures done and leaves them."""
        assert self._loop is not None
        self._watch = None
        old = self._loop.time() - COMMIT_TIMEOUT_S
        outstanding = [*(item for flying in self._in_flight for item in flying), *self._waiting]
        for _, done, since in outstanding:
            if since < old:
                _resolve(done, ServiceUnavailable("the decision store did not commit in time"))
        if any(not done.done() for _, done, _ in outstanding):
            self._watch = self._loop.call_later(_WATCH_EVERY_S, self._expire)

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Serve ``loop`` from now on (done on the first decision if not before)."""
        if loop is not self._loop:
            self._bind(loop)

    def _bind(self, loop: asyncio.AbstractEventLoop) -> None:
        # A new loop (a test's second asyncio.run): whatever the old one waited for is lost.
        if self._loop is not None and not self._loop.is_closed():
            with contextlib.suppress(Exception):
                self._loop.remove_reader(self._conn.fileno())
                self._loop.remove_writer(self._out_fd)
        if self._watch is not None:
            self._watch.cancel()
        self._loop, self._in_flight, self._waiting, self._singles = loop, deque(), [], 0
        self._send_soon, self._watch = False, None
        self._unsent = memoryview(b"")
        if self._broken is None:
            loop.add_reader(self._conn.fileno(), self._on_answer)

    def _send_next(self) -> None:
        if not self._waiting or self._broken is not None:
            return
        if self._singles and self._in_flight:
            return  # retrying one by one: each waits for the answer before the next
        size = 1 if self._singles else self._max
        self._singles = max(0, self._singles - 1)
        batch, self._waiting = self._waiting[:size], self._waiting[size:]
        data = pack([bundle for bundle, _, _ in batch])
        self._unsent = memoryview(struct.pack("!i", len(data)) + data)
        self._in_flight.append(batch)
        self._write_some()

    def _write_some(self) -> None:
        try:
            written = os.write(self._out_fd, self._unsent)
        except BlockingIOError:
            written = 0
        except OSError as exc:
            self._fail([], f"the decision writer process is gone ({exc!r})")
            return
        self._unsent = self._unsent[written:]
        assert self._loop is not None
        if self._unsent:
            self._loop.add_writer(self._out_fd, self._write_some)
            return
        self._loop.remove_writer(self._out_fd)
        if len(self._in_flight) < self._depth and not self._singles:
            self._send_next()

    def _on_answer(self) -> None:
        batch = self._in_flight.popleft() if self._in_flight else []
        try:
            status, detail = self._conn.recv()
        except (EOFError, OSError) as exc:
            self._fail(batch, f"the decision writer process is gone ({exc!r})")
            return
        if status == "ok":
            for _, done, _ in batch:
                _resolve(done, None)
        elif status == "integrity" and len(batch) == 1:
            _resolve(batch[0][1], self._duplicate(detail))
        elif status == "integrity":
            # One bundle of the batch is a duplicate: the others must not pay for it. Each
            # goes again on its own, so only the duplicate's caller sees the conflict.
            self._waiting = [*batch, *self._waiting]
            self._singles = len(batch)
        else:
            for _, done, _ in batch:
                _resolve(done, ServiceUnavailable(f"the decision writer failed: {detail}"))
        if (
            not self._unsent
            and (len(self._in_flight) < self._depth)
            and not (self._singles and self._in_flight)
        ):
            self._send_next()

    def _fail(self, batch: _Batch, why: str) -> None:
        self._broken = why
        batch = [*batch, *(item for flying in self._in_flight for item in flying)]
        self._in_flight = deque()
        if self._loop is not None:
            with contextlib.suppress(Exception):
                self._loop.remove_reader(self._conn.fileno())
                self._loop.remove_writer(self._out_fd)
        for _, done, _ in [*batch, *self._waiting]:
            _resolve(done, ServiceUnavailable(why))
        self._waiting = []

    def close(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(Exception):
                loop.remove_reader(self._conn.fileno())
                loop.remove_writer(self._out_fd)


def _integrity_error(detail: str) -> BaseException:
    return IntegrityError(detail, None, Exception(detail))


def _resolve(done: asyncio.Future[None], exc: BaseException | None) -> None:
    if done.done():
        return
    if exc is None:
        done.set_result(None)
    else:
        done.set_exception(exc)

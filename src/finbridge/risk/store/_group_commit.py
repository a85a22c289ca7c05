"""Group commit: concurrent decisions share one transaction.

Group commit: callers hand their rows to one writer thread and wait for the commit of the batch
that carried them, so a decision is durable before it is returned, but a burst of concurrent
decisions shares one transaction (and one WAL sync) instead of paying one each. A failed batch
is retried row bundle by row bundle, so one bad bundle fails only its own caller.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future

from finbridge.core.errors import ServiceUnavailable
from finbridge.risk.decisions._port import Writes

COMMIT_TIMEOUT_S = 10.0
SLOW_COMMIT_S = 0.25
log = logging.getLogger(__name__)
# A waiter is a thread's concurrent Future, or an event loop's asyncio Future (resolved from the
# writer thread with one call_soon_threadsafe per loop per batch, not one wake-up per decision).
_Waiter = Future[None] | asyncio.Future[None]


class GroupCommitWriter:
    def __init__(
        self, write: Callable[[list[Writes]], None], max_batch: int = 256, linger_s: float = 0.0
    ) -> None:
        self._write = write
        self._max = max_batch
        # How long a batch waits for company before it is written (a commit delay): worth a
        # few milliseconds when each write has a fixed cost, e.g. a round trip to a process.
        self._linger_s = linger_s
        self._queue: queue.SimpleQueue[tuple[Writes, _Waiter] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="risk-writer", daemon=True)
        self._thread.start()

    def submit(self, bundle: Writes) -> None:
        """Queue ``bundle`` and wait until the transaction carrying it has committed."""
        done: Future[None] = Future()
        self._queue.put((bundle, done))
        try:
            done.result(timeout=COMMIT_TIMEOUT_S)
        except TimeoutError:
            raise ServiceUnavailable("the decision store did not commit in time") from None

    async def submit_async(self, bundle: Writes) -> None:
        """As :meth:`submit`, for an event loop: the loop serves other requests while the
        writer thread commits (no worker thread is held per waiting decision)."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.put((bundle, done))
        try:
            await asyncio.wait_for(done, COMMIT_TIMEOUT_S)
        except TimeoutError:
            raise ServiceUnavailable("the decision store did not commit in time") from None

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            batch = [item]
            until = time.monotonic() + self._linger_s
            while len(batch) < self._max:
                try:
                    left = until - time.monotonic()
                    nxt = self._queue.get(timeout=left) if left > 0 else self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._flush(batch)
                    return
                batch.append(nxt)
            self._flush(batch)

    def _flush(self, batch: list[tuple[Writes, _Waiter]]) -> None:
        outcomes: list[tuple[_Waiter, BaseException | None]]
        started = time.perf_counter()
        try:
            self._write([b for b, _ in batch])
            outcomes = [(done, None) for _, done in batch]
            took = time.perf_counter() - started
            if took > SLOW_COMMIT_S:  # every waiting decision is held this long: say so
                log.warning("risk decisions: a commit of %d took %.2f s", len(batch), took)
        except Exception:  # isolate the failing bundle; the others still commit
            outcomes = []
            for bundle, done in batch:
                try:
                    self._write([bundle])
                except Exception as exc:
                    outcomes.append((done, exc))
                else:
                    outcomes.append((done, None))
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Waiter, BaseException | None]]] = {}
        for done, error in outcomes:
            if isinstance(done, asyncio.Future):
                by_loop.setdefault(done.get_loop(), []).append((done, error))
            else:
                _resolve(done, error)
        for loop, items in by_loop.items():
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
                loop.call_soon_threadsafe(_resolve_all, items)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=COMMIT_TIMEOUT_S)


def _resolve(done: _Waiter, exc: BaseException | None) -> None:
    if done.done():  # an asyncio waiter that timed out or was cancelled
        return
    if exc is None:
        done.set_result(None)
    else:
        done.set_exception(exc)


def _resolve_all(items: list[tuple[_Waiter, BaseException | None]]) -> None:
    for done, exc in items:
        _resolve(done, exc)

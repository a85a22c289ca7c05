"""A private asyncio loop on a daemon thread, so synchronous callers (the outbox relay, the CLI)
can drive nats-py's async client without owning an event loop."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

_T = TypeVar("_T")


class LoopTimeout(Exception):
    """The coroutine did not finish within the caller's bound (it was cancelled)."""


class LoopThread:
    def __init__(self, name: str = "event-bus") -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, _T], timeout: float | None = None) -> _T:
        """Run ``coro`` on the loop and wait for its result (cancelled after ``timeout``)."""
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        # Waited for apart from its result: a TimeoutError raised inside ``coro`` (a NATS request
        # that timed out) must not read as this wait running out.
        done, _ = concurrent.futures.wait([future], timeout)
        if not done:
            future.cancel()
            raise LoopTimeout(f"no answer within {timeout} s")
        return future.result()

    def close(self) -> None:
        if self._loop.is_closed():
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

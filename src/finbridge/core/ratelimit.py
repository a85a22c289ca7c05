"""Rate limits (the ``limits`` library): per client IP, per API key or customer, per action.

In-process by default; with ``FINBRIDGE_REDIS_URL`` set, the counters live in Redis and every
worker and process shares them. Moving windows (exact: no double burst at a window edge). A
refusal is :class:`~finbridge.core.errors.RateLimited` with ``retry_after`` seconds, which every
interface answers as 429 with ``Retry-After``.

If the shared store cannot be reached the limiter lets the request through and logs it: a
Redis outage must not take the API down (the per-identifier password throttle in identity,
which lives in the database, still holds).
"""

from __future__ import annotations

import logging
import math
import time
from typing import TYPE_CHECKING, Any

from finbridge.core.clock import SystemClock
from finbridge.core.errors import RateLimited

if TYPE_CHECKING:
    from finbridge.core.settings import RateLimitSettings

log = logging.getLogger(__name__)


class RateLimiter:
    """Named limits from the settings, checked with :meth:`hit`."""

    def __init__(self, settings: RateLimitSettings, redis_url: str | None = None) -> None:
        from limits import parse
        from limits.storage import storage_from_string
        from limits.strategies import MovingWindowRateLimiter

        self.enabled = settings.enabled
        self._limits = {name: parse(value) for name, value in settings.named().items()}
        self._storage = storage_from_string(redis_url) if redis_url else _memory_storage()
        self._limiter = MovingWindowRateLimiter(self._storage)
        self._clock = SystemClock()  # the library's windows run on real time

    def hit(self, name: str, key: str) -> None:
        """Count one ``name`` action by ``key``; raise RateLimited once its limit is used up."""
        if not self.enabled:
            return
        item = self._limits[name]
        try:
            allowed = self._limiter.hit(item, name, key)
            if allowed:
                return
            reset = self._limiter.get_window_stats(item, name, key).reset_time
        except Exception:  # the shared store is down: fail open, loudly
            log.warning("rate limit %s not checked: the limit store is unreachable", name)
            return
        wait = max(1, math.ceil(reset - self._clock.now().timestamp()))
        raise RateLimited(
            f"too many requests ({name}: {item}); retry in {wait} s", retry_after=wait
        )

    def check(self, name: str, key: str) -> None:
        """Raise RateLimited if ``name`` is used up for ``key``, without counting anything."""
        if not self.enabled:
            return
        item = self._limits[name]
        try:
            if self._limiter.test(item, name, key):
                return
            reset = self._limiter.get_window_stats(item, name, key).reset_time
        except Exception:
            log.warning("rate limit %s not checked: the limit store is unreachable", name)
            return
        wait = max(1, math.ceil(reset - self._clock.now().timestamp()))
        raise RateLimited(f"too many attempts; retry in {wait} s", retry_after=wait)

    def reset(self) -> None:
        self._storage.reset()


def _memory_storage() -> Any:
    """The ``limits`` library's in-process store, its expiry done on the caller's thread.

    The library's store starts a ``threading.Timer`` every 10 ms while it is being hit, to drop
    expired entries: in the decision gateway that was 1,027 threads started for 3,000 decisions
    (cProfile, 2026-12-07), and under load each ``start()`` waits until the new thread has been
    scheduled. Expiry only frees memory: a moving window reads the entry at the limit's position
    and a fixed window checks its expiry on read, so expiring inline once a second changes no
    answer. (The override names the library's private hook; tests/gateway/test_rate_limit.py
    fails if an upgrade renames it.)
    """
    from limits.storage import MemoryStorage

    class InlineExpiry(MemoryStorage):
        _every_s = 1.0
        _next = 0.0

        def _MemoryStorage__schedule_expiry(self) -> None:  # the library's hook (name-mangled)
            now = time.monotonic()
            if now >= self._next:
                self._next = now + self._every_s
                self._MemoryStorage__expire_events()  # type: ignore[attr-defined]

    return InlineExpiry()

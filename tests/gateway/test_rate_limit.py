"""The in-process rate limit the decision gateway counts every decision against.

The ``limits`` library's memory store started a timer thread every 10 ms while hit; ours expires
on the caller's thread. Limits must hold exactly as before, and no thread may start per hit.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from finbridge.core.errors import RateLimited
from finbridge.core.ratelimit import RateLimiter
from finbridge.core.settings import RateLimitSettings


def test_hits_start_no_thread_and_the_limit_still_holds(monkeypatch: pytest.MonkeyPatch) -> None:
    limiter = RateLimiter(RateLimitSettings(gateway_per_key="50/second"))
    starts: list[str] = []
    start = threading.Thread.start

    def counted_start(thread: threading.Thread) -> None:
        starts.append(thread.name)
        start(thread)

    monkeypatch.setattr(threading.Thread, "start", counted_start)
    counted = 0
    with pytest.raises(RateLimited) as refused:
        for _ in range(51):
            limiter.hit("gateway_per_key", "key-a")
            counted += 1
            time.sleep(0.0005)  # spread over > 10 ms, when the library's timer would restart
    assert counted == 50
    assert refused.value.extra["retry_after"] >= 1
    limiter.hit("gateway_per_key", "key-b")  # another key has its own budget
    assert starts == []


def test_expired_entries_are_dropped_and_the_window_moves_on() -> None:
    limiter = RateLimiter(RateLimitSettings(gateway_per_key="3/second"))
    for _ in range(3):
        limiter.hit("gateway_per_key", "key")
    with pytest.raises(RateLimited):
        limiter.hit("gateway_per_key", "key")
    time.sleep(1.05)  # the window is one second of real time (the library's clock)
    limiter.hit("gateway_per_key", "key")  # the window moved: allowed again
    storage: Any = limiter._storage
    stored = [entry for entries in storage.events.values() for entry in entries]
    # Entries older than their window were dropped inline, on this thread: only the new one.
    assert len(stored) == 1

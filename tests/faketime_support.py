"""Loaded only by the Makefile's faketime step (``-p tests.faketime_support``).

libfaketime 0.9.10 (Debian 12) with ``FAKETIME_DONT_FAKE_MONOTONIC=1`` breaks Python's
``time.sleep``: CPython sleeps with ``clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME)`` and the
library shifts that absolute monotonic deadline by the fake offset, so every sleep fails with
``OSError: [Errno 22] Invalid argument``. Reproduce with
``FAKETIME_DONT_FAKE_MONOTONIC=1 faketime -f +400d python -c 'import time; time.sleep(0.1)'``.
It is the faking tool, not our code (the same sleep works without it), so sleeps wait on an
event instead (a condition variable, which libfaketime leaves correct). Nothing else changes:
the wall clock is still 400 days ahead for everything the tests run.
"""

from __future__ import annotations

import threading
import time


def _sleep(seconds: float) -> None:
    if seconds > 0:
        threading.Event().wait(seconds)


time.sleep = _sleep

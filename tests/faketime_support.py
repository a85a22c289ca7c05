"""Loaded only by the Makefile's faketime step (``-p tests.faketime_support``).

Two mends for the faking tool itself, so the step tests our code rather than libfaketime:

1. libfaketime 0.9.10 (Debian 12) with ``FAKETIME_DONT_FAKE_MONOTONIC=1`` breaks Python's
   ``time.sleep``: CPython sleeps with ``clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME)`` and
   the library shifts that absolute monotonic deadline by the fake offset, so every sleep fails
   with ``OSError: [Errno 22] Invalid argument``. Reproduce with
   ``FAKETIME_DONT_FAKE_MONOTONIC=1 faketime -f +400d python -c 'import time; time.sleep(0.1)'``.
   Sleeps here wait on an event instead (a condition variable, which libfaketime keeps right).
2. ``redis-server`` cannot start under libfaketime ("Cannot recover from unexpected recursive
   calls to clock_gettime()": ``faketime -f +400d redis-server --port 6399`` exits at once). A
   test that spawns its own Redis starts it on the real clock; the tests' own processes stay
   400 days ahead (Redis keeps no time of ours: expiries are relative).

Nothing else changes: every test process still sees the wall clock 400 days ahead.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from typing import Any

_REAL_CLOCK_TOOLS = frozenset({"redis-server"})
_FAKING = ("LD_PRELOAD", "FAKETIME")


def _sleep(seconds: float) -> None:
    if seconds > 0:
        threading.Event().wait(seconds)


time.sleep = _sleep

_popen_init = subprocess.Popen.__init__


def _popen(self: subprocess.Popen[Any], args: Any, *rest: Any, **kwargs: Any) -> None:
    program = args[0] if isinstance(args, (list, tuple)) and args else args
    if os.path.basename(str(program)) in _REAL_CLOCK_TOOLS:
        env = kwargs.get("env") or os.environ
        kwargs["env"] = {k: v for k, v in env.items() if k not in _FAKING}
    _popen_init(self, args, *rest, **kwargs)


subprocess.Popen.__init__ = _popen  # type: ignore[method-assign]

"""Close each finished business day while the server runs (issue 14).

A daemon thread wakes every ``FINBRIDGE_LENDING__COB_CHECK_SECONDS`` (default 300) and, when a
business day (Asia/Shanghai) is over and not closed, runs the close of business up to yesterday
through ``platform.cob`` (the same runner ``finbridge cob run`` and the console use). A day a
killed run left half-done is finished first; a run already going in another process is left
alone (the runner's lock says so and the loop tries again later). A plain loop, because the
schedule is "as soon as the day is over", which needs no cron expression or job store.
"""

from __future__ import annotations

import logging
import threading

from finbridge.core.errors import Conflict
from finbridge.core.principal import Principal
from finbridge.platform import Platform

log = logging.getLogger("finbridge.cob")
_ACTOR = Principal.system("cob-loop")


class CobLoop:
    def __init__(self, platform: Platform, *, interval_seconds: float | None = None) -> None:
        self._platform = platform
        self._interval = interval_seconds or platform.settings.lending.cob_check_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="close-of-business", daemon=True)

    def start(self) -> CobLoop:
        self._thread.start()
        return self

    def run_once(self) -> int:
        """Close what is due now; returns the number of days closed."""
        runner = self._platform.cob
        if not runner.plan():
            return 0
        try:
            closed = runner.run(_ACTOR)
        except Conflict:
            log.info("a close of business is already running elsewhere; trying later")
            return 0
        if closed:
            log.info("closed business days %s .. %s", closed[0], closed[-1])
        return len(closed)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # a failed step stays "running" and is resumed on the next try
                log.exception("close of business failed; retrying later")
            self._stop.wait(self._interval)

    def stop(self) -> None:
        """Stop between steps at the latest when the current step ends (it is journaled)."""
        self._stop.set()
        self._thread.join(timeout=5)

"""Plan and send campaign messages while the server runs (issue 17).

A daemon thread wakes every ``FINBRIDGE_ACQUISITION__DELIVER_CHECK_SECONDS`` (default 60):
once an hour it refreshes the profiles and plans today and tomorrow (business time zone) for
every active campaign (idempotent per campaign, customer and day, so a restart plans nothing
twice), and every time it sends what is due (``deliver_due``: consent and opt-outs are checked
again at that moment). A plain loop like the close of business: "every minute" needs no job store.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

from finbridge.core.clock import business_date
from finbridge.core.principal import Principal
from finbridge.platform import Platform

log = logging.getLogger("finbridge.acquisition")
_ACTOR = Principal.system("acquisition-loop")
PLAN_EVERY_SECONDS = 3600.0


class DeliveryLoop:
    def __init__(self, platform: Platform, *, interval_seconds: float | None = None) -> None:
        self._platform = platform
        self._interval = interval_seconds or platform.settings.acquisition.deliver_check_seconds
        self._stop = threading.Event()
        self._planned_at: float | None = None
        self._thread = threading.Thread(target=self._run, name="acquisition", daemon=True)

    def start(self) -> DeliveryLoop:
        self._thread.start()
        return self

    def plan(self) -> int:
        """Refresh profiles, then plan today and tomorrow for each active campaign."""
        acq = self._platform.acquisition
        acq.refresh_profiles(_ACTOR)
        today = business_date(self._platform.clock.now(), self._platform.settings.business_timezone)
        planned = 0
        for campaign in acq.campaigns(_ACTOR):
            if campaign.status != "active":
                continue
            for day in (today, today + timedelta(days=1)):
                report = acq.schedule(_ACTOR, campaign.id, day)
                planned += report.scheduled + report.holdout
        return planned

    def run_once(self) -> int:
        """Plan when an hour has passed, then send what is due; returns messages sent."""
        now = time.monotonic()
        if self._planned_at is None or now - self._planned_at >= PLAN_EVERY_SECONDS:
            self._planned_at = now
            planned = self.plan()
            if planned:
                log.info("planned %d campaign messages", planned)
        sent = self._platform.acquisition.deliver_due(_ACTOR)
        if sent.delivered or sent.suppressed:
            log.info("sent %d campaign messages, suppressed %s", sent.delivered, sent.suppressed)
        return sent.delivered

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # a failed run leaves rows scheduled; the next one sends them
                log.exception("campaign delivery failed; retrying later")
            self._stop.wait(self._interval)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

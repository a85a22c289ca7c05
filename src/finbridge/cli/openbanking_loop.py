"""Webhook deliveries to third-party apps while ``finbridge serve`` runs: every few seconds the
due deliveries are signed and sent (``platform.openbanking.webhooks.deliver_due``). Receivers
de-duplicate by ``webhook-id`` (Standard Webhooks), so a delivery sent twice by two serving
processes is harmless."""

from __future__ import annotations

import logging
import threading

from finbridge.core.principal import Principal
from finbridge.platform import Platform

log = logging.getLogger(__name__)
_ACTOR = Principal.system("webhooks")


class WebhookLoop:
    def __init__(self, platform: Platform, *, interval_seconds: float | None = None) -> None:
        self._platform = platform
        self._interval = interval_seconds or platform.settings.openbanking.webhook_check_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="openbanking-webhooks", daemon=True)

    def start(self) -> WebhookLoop:
        self._thread.start()
        return self

    def run_once(self) -> int:
        """Send what is due now; the number delivered."""
        run = self._platform.openbanking.webhooks.deliver_due(_ACTOR)
        if run.failed:
            log.warning("%d webhook deliveries gave up after their last attempt", run.failed)
        return run.delivered

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # a failed round is retried on the next tick
                log.exception("webhook delivery round failed; retrying later")
            # API usage counted since the last call flush goes out even when calls stop.
            self._platform.openbanking.usage.flush_quietly()
            self._stop.wait(self._interval)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

"""The outbox relay's sink when an event bus is configured: publish to JetStream, pause while a
consumer lags."""

from __future__ import annotations

import logging
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

from finbridge.core.errors import ServiceUnavailable
from finbridge.core.settings import StreamSettings
from finbridge.lake.events import Event
from finbridge.lake.stream._bus import ConsumerLag, JetStreamBus, PublishResult
from finbridge.lake.stream._codec import check_publishable
from finbridge.lake.stream._loop import LoopThread, LoopTimeout

log = logging.getLogger("finbridge.stream")
_T = TypeVar("_T")


class BusSink:
    """Synchronous face of :class:`JetStreamBus` for the relay (which runs on a plain thread)."""

    refuses_unknown_types = True

    def __init__(self, url: str, settings: StreamSettings) -> None:
        self.settings = settings
        self.bus = JetStreamBus(url, settings)
        self._loop = LoopThread()
        self._paused: str | None = None

    def _timeout(self, n: int = 1) -> float:
        # Every call is bounded, so a relay never hangs on a bus that stopped answering.
        return self.settings.publish_timeout_seconds * 2 + n / 1000

    def run(self, coro: Coroutine[Any, Any, _T], timeout: float) -> _T:
        """Run ``coro`` on the bus connection's own loop; a bus that does not answer within
        ``timeout`` is reported unavailable (the caller's rows stay where they are)."""
        try:
            return self._loop.run(coro, timeout)
        except LoopTimeout:
            shown = self.bus.shown_url
            raise ServiceUnavailable(f"event bus {shown} did not answer in time") from None
        except TimeoutError as exc:  # a NATS request inside timed out
            raise ServiceUnavailable(f"event bus {self.bus.shown_url} timed out: {exc!r}") from exc

    def check(self, event_type: str, schema_version: int) -> None:
        check_publishable(event_type, schema_version)

    def write(self, events: Sequence[Event], *, batch: str) -> PublishResult:
        del batch  # JetStream de-duplicates by message id, not by batch
        return self.run(self.bus.publish(events), self._timeout(len(events)))

    def lag(self) -> list[ConsumerLag]:
        return self.run(self.bus.lag(self.settings.consumers), self._timeout())

    def paused(self) -> str | None:
        """Why the relay must not publish now (a consumer past ``max_pending``), else None.

        Said once when it starts and once when it ends, not on every turn."""
        bound = self.settings.max_pending
        behind = [c for c in self.lag() if c.behind > bound]
        if behind:
            reason = ", ".join(f"{c.name} has {c.behind} pending" for c in behind)
            reason = f"back-pressure: {reason} (bound {bound}); relay paused"
            if self._paused is None:
                log.warning(reason)
            self._paused = reason
            return reason
        if self._paused is not None:
            log.warning("back-pressure over: every consumer is within %d; relay resumed", bound)
            self._paused = None
        return None

    def close(self) -> None:
        try:
            self._loop.run(self.bus.close(), 10)
        finally:
            self._loop.close()

"""Keep the event lake fed while the server runs: drain the outbox every few seconds.

With an event bus configured (``FINBRIDGE_EVENT_BUS``) the outbox goes to JetStream instead,
and the same loop runs the platform's durable consumers (the lake writer among them) on the
bus connection's own event loop.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from finbridge.core.errors import ServiceUnavailable
from finbridge.platform import Platform

if TYPE_CHECKING:
    import asyncio

log = logging.getLogger("finbridge.relay")


class RelayLoop:
    """A daemon thread that publishes committed outbox rows to the Parquet lake (or the bus).

    Batches stay small (2,000 events) because on SQLite each batch holds the write lock while
    its Parquet files are written, and API writes queue behind it.
    """

    def __init__(self, platform: Platform, *, interval_seconds: float = 2.0) -> None:
        from finbridge.lake import EventLake, OutboxRelay

        self._stream = platform.stream
        if self._stream is not None:
            self._relay = self._stream.relay
        else:
            self._relay = OutboxRelay(
                platform.engine,
                EventLake(platform.lake_dir),
                clock=platform.clock,
                batch_size=2000,
            )
        self._consumers: tuple[asyncio.Event, list[asyncio.Task[None]]] | None = None
        self._interval = interval_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="outbox-relay", daemon=True)

    def start(self) -> RelayLoop:
        if self._stream is not None:
            log.info("relaying the outbox to the event bus %s", self._stream.shown_url)
            self._consumers = self._stream.start_consumers()
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                published = self._relay.run_once()
            except ServiceUnavailable as exc:  # the bus is away: the rows wait in the outbox
                log.warning("outbox relay waiting: %s", exc)
                published = 0
            except Exception:  # keep relaying after a transient failure; the rows stay queued
                log.exception("outbox relay failed; retrying")
                published = 0
            if published == 0:  # nothing to do, paused by back-pressure, or the bus is away
                self._stop.wait(self._interval)

    def stop(self) -> None:
        """Stop after the current batch. Unpublished events stay in the outbox (durably) and
        the next server's relay publishes them, so shutting down never waits for a backlog."""
        self._stop.set()
        self._thread.join(timeout=60)
        if self._stream is not None and self._consumers is not None:
            try:
                self._stream.stop_consumers(*self._consumers)
            except Exception:  # unacknowledged messages are redelivered to the next server
                log.exception("stopping the stream consumers failed")

"""The JetStream side of the stream: one stream of every event, subjects per event type.

nats-py does the protocol, acknowledgements, de-duplication headers and consumer state; this
module only fixes the shape (stream name, subjects, duplicate window) from the settings.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from finbridge.core.errors import ServiceUnavailable
from finbridge.core.settings import StreamSettings
from finbridge.lake.events import Event
from finbridge.lake.stream._codec import MSG_ID, decode, encode, subject_for

log = logging.getLogger("finbridge.stream")


@dataclass(frozen=True, slots=True)
class PublishResult:
    published: int
    duplicates: int  # already in the stream (same event id inside the duplicate window)


@dataclass(frozen=True, slots=True)
class ConsumerLag:
    name: str
    pending: int  # in the stream, not yet delivered to the consumer
    ack_pending: int  # delivered, not yet acknowledged
    redelivered: int

    @property
    def behind(self) -> int:
        return self.pending + self.ack_pending


@dataclass(frozen=True, slots=True)
class StreamedEvent:
    """An event as the stream delivered it: with the time the stream stored it."""

    event: Event
    stream_seq: int
    stored_at: datetime


async def _quiet(exc: Exception) -> None:
    # nats-py logs every failed attempt with a traceback; the caller reports the failure once.
    log.debug("nats: %r", exc)


class JetStreamBus:
    """A connection to NATS and the events stream (made on first use)."""

    def __init__(self, url: str, settings: StreamSettings) -> None:
        self.url = url
        self.settings = settings
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._lock = asyncio.Lock()

    @property
    def shown_url(self) -> str:
        """The URL for messages and logs: credentials (``nats://user:pass@host``) hidden."""
        scheme, _, rest = self.url.partition("://")
        return f"{scheme}://**********@{rest.rsplit('@', 1)[1]}" if "@" in rest else self.url

    @property
    def wildcard(self) -> str:
        return f"{self.settings.subject_prefix}.>"

    def subject(self, event_type: str) -> str:
        return subject_for(self.settings.subject_prefix, event_type)

    async def js(self) -> JetStreamContext:
        async with self._lock:
            if self._js is not None and self._nc is not None and self._nc.is_connected:
                return self._js
            await self._close()
            try:
                # No reconnect loop inside the client: a caller that finds NATS gone gets an
                # error now, keeps its rows in the outbox and connects afresh on its next turn.
                # (nats-py reads max_reconnect_attempts=0 as "forever", even on the first
                # connect: one retry, quickly, then NoServersError.)
                nc = await asyncio.wait_for(
                    nats.connect(
                        self.url,
                        allow_reconnect=False,
                        connect_timeout=self.settings.publish_timeout_seconds,
                        max_reconnect_attempts=1,
                        reconnect_time_wait=0.1,
                        error_cb=_quiet,
                    ),
                    timeout=self.settings.publish_timeout_seconds * 2,
                )
            except Exception as exc:
                raise ServiceUnavailable(
                    f"event bus {self.shown_url} unreachable: {exc!r}"
                ) from None
            js = nc.jetstream(timeout=self.settings.publish_timeout_seconds)
            config = StreamConfig(
                name=self.settings.stream_name,
                subjects=[self.wildcard],
                storage=StorageType.FILE,
                duplicate_window=float(self.settings.duplicate_window_seconds),
            )
            try:
                await js.stream_info(self.settings.stream_name)
                await js.update_stream(config)
            except NotFoundError:
                await js.add_stream(config)
            self._nc, self._js = nc, js
            return js

    async def publish(self, events: Sequence[Event]) -> PublishResult:
        """Publish ``events`` and wait for every ack (the stream has stored them)."""
        js = await self.js()
        futures = [
            await js.publish_async(
                self.subject(e.event_type),
                encode(e),
                headers={MSG_ID: e.event_id},
                stream=self.settings.stream_name,
            )
            for e in events
        ]
        try:
            acks = await asyncio.wait_for(
                asyncio.gather(*futures), timeout=self.settings.publish_timeout_seconds
            )
        except Exception as exc:
            for f in futures:
                f.cancel()
            await self._close()
            raise ServiceUnavailable(f"event bus did not acknowledge: {exc!r}") from None
        duplicates = sum(1 for a in acks if a.duplicate)
        return PublishResult(published=len(acks) - duplicates, duplicates=duplicates)

    async def lag(self, names: Sequence[str]) -> list[ConsumerLag]:
        """How far each named durable consumer is behind (consumers not yet made are left out)."""
        js = await self.js()
        out = []
        for name in names:
            try:
                info = await js.consumer_info(self.settings.stream_name, name)
            except NotFoundError:
                continue
            out.append(
                ConsumerLag(
                    name=name,
                    pending=info.num_pending or 0,
                    ack_pending=info.num_ack_pending or 0,
                    redelivered=info.num_redelivered or 0,
                )
            )
        return out

    async def stream_state(self) -> dict[str, int | str | None]:
        js = await self.js()
        info = await js.stream_info(self.settings.stream_name)
        state = info.state
        return {
            "stream": self.settings.stream_name,
            "messages": state.messages,
            "bytes": state.bytes,
            "first_seq": state.first_seq,
            "last_seq": state.last_seq,
            "consumers": state.consumer_count,
        }

    async def durable(
        self, name: str, event_types: Sequence[str] | None = None
    ) -> JetStreamContext.PullSubscription:
        """A pull subscription on the durable consumer ``name`` (made on first use)."""
        js = await self.js()
        subjects = [self.subject(t) for t in event_types] if event_types else [self.wildcard]
        config = ConsumerConfig(
            ack_wait=self.settings.ack_wait_seconds,
            max_ack_pending=self.settings.max_pending,
            filter_subjects=subjects if len(subjects) > 1 else None,
            filter_subject=subjects[0] if len(subjects) == 1 else None,
        )
        return await js.pull_subscribe(
            subjects[0], durable=name, stream=self.settings.stream_name, config=config
        )

    async def replay(
        self, since: datetime, *, event_types: Sequence[str] | None = None, batch: int = 500
    ) -> list[StreamedEvent]:
        """Every event the stream stored at or after ``since`` (an ephemeral consumer that
        starts by time: ``DeliverPolicy.BY_START_TIME``)."""
        js = await self.js()
        subjects = [self.subject(t) for t in event_types] if event_types else [self.wildcard]
        config = ConsumerConfig(
            deliver_policy=DeliverPolicy.BY_START_TIME,
            opt_start_time=since.astimezone(UTC),  # type: ignore[arg-type]
            inactive_threshold=60.0,
            filter_subjects=subjects if len(subjects) > 1 else None,
        )
        sub = await js.pull_subscribe(subjects[0], stream=self.settings.stream_name, config=config)
        out: list[StreamedEvent] = []
        try:
            while True:
                try:
                    msgs = await sub.fetch(batch, timeout=1.0)
                except TimeoutError:  # nats-py's or asyncio's: nothing more came
                    break
                for m in msgs:
                    meta = m.metadata
                    out.append(StreamedEvent(decode(m.data), meta.sequence.stream, meta.timestamp))
                    await m.ack()
                if msgs and msgs[-1].metadata.num_pending == 0:
                    break
        finally:
            await sub.unsubscribe()
        return out

    async def _close(self) -> None:
        nc, self._nc, self._js = self._nc, None, None
        if nc is not None and not nc.is_closed:
            with contextlib.suppress(Exception):  # the connection is gone either way
                await nc.close()

    async def close(self) -> None:
        async with self._lock:
            await self._close()

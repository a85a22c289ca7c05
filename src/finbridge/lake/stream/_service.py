"""The stream's service face: status, replay from a time, running the durable consumers.

Interfaces (the CLI, ``serve``) call this; it checks scopes like the lake's own service:
``events:read`` to see the status, ``events:admin`` to replay or run consumers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Engine

from finbridge.core.clock import Clock
from finbridge.core.errors import NotFound, ValidationError
from finbridge.core.principal import Principal
from finbridge.core.settings import StreamSettings
from finbridge.lake.eventlake import EventLake
from finbridge.lake.relay import OutboxRelay, RelayResult
from finbridge.lake.stream._bus import ConsumerLag, JetStreamBus, StreamedEvent
from finbridge.lake.stream._consumer import (
    ConsumeResult,
    LakeWriter,
    StreamConsumer,
    StreamHandler,
    apply_once,
)
from finbridge.lake.stream._sink import BusSink

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class StreamStatus:
    stream: dict[str, int | str | None]
    consumers: list[ConsumerLag]
    outbox_pending: int
    outbox_refused: list[tuple[str, str, str]]  # (event id, type, why)
    max_pending: int


@dataclass(frozen=True, slots=True)
class ReplayResult:
    since: datetime
    events: list[StreamedEvent]
    into: str | None
    applied: int
    skipped: int

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for s in self.events:
            out[s.event.event_type] = out.get(s.event.event_type, 0) + 1
        return dict(sorted(out.items()))


class EventStream:
    """The configured event bus, its relay sink and the platform's durable consumers."""

    def __init__(
        self,
        url: str,
        settings: StreamSettings,
        engine: Engine,
        relay: OutboxRelay,
        sink: BusSink,
        clock: Clock,
        handlers: Sequence[StreamHandler],
    ) -> None:
        self.url = url
        self.settings = settings
        self.engine = engine
        self.relay = relay
        self.sink = sink
        self.clock = clock
        self.handlers = {h.name: h for h in handlers}

    @classmethod
    def build(
        cls,
        url: str,
        settings: StreamSettings,
        engine: Engine,
        lake: EventLake,
        clock: Clock,
        *,
        handlers: Sequence[StreamHandler] = (),
        batch_size: int = 2000,
    ) -> EventStream:
        """The stream with its relay (outbox -> bus) and the lake writer among its consumers."""
        sink = BusSink(url, settings)
        relay = OutboxRelay(engine, lake, clock=clock, batch_size=batch_size, sink=sink)
        return cls(url, settings, engine, relay, sink, clock, [LakeWriter(lake), *handlers])

    @property
    def shown_url(self) -> str:
        return self.sink.bus.shown_url

    @property
    def bus(self) -> JetStreamBus:
        return self.sink.bus

    def _run(self, coro: Coroutine[Any, Any, _T], timeout: float = 60) -> _T:
        return self.sink.run(coro, timeout)

    def handler(self, name: str) -> StreamHandler:
        try:
            return self.handlers[name]
        except KeyError:
            raise NotFound(
                f"no stream consumer {name!r}; known: {sorted(self.handlers)}", field="consumer"
            ) from None

    def status(self, actor: Principal) -> StreamStatus:
        actor.require_scope("events:read")
        return StreamStatus(
            stream=self._run(self.bus.stream_state()),
            consumers=self._run(self.bus.lag(sorted(self.handlers) or self.settings.consumers)),
            outbox_pending=self.relay.pending(),
            outbox_refused=self.relay.refused_rows(),
            max_pending=self.settings.max_pending,
        )

    def replay(
        self,
        actor: Principal,
        since: datetime,
        *,
        event_types: Sequence[str] | None = None,
        into: str | None = None,
    ) -> ReplayResult:
        """Every event the stream stored at or after ``since``; with ``into``, also handed to
        that consumer's handler (events it already applied are skipped: replay never doubles
        an effect)."""
        actor.require_scope("events:admin")
        if since.tzinfo is None:
            raise ValidationError("give the instant a UTC offset", field="since")
        handler = self.handler(into) if into is not None else None
        if event_types:
            for t in event_types:
                self.bus.subject(t)  # a clear error for a type that cannot be a subject
        events = self._run(self.bus.replay(since, event_types=event_types), 600)
        applied = skipped = 0
        if handler is not None and events:
            applied, skipped = apply_once(
                self.engine, handler, [s.event for s in events], self.clock
            )
        return ReplayResult(since, events, into, applied, skipped)

    def relay_now(self, actor: Principal) -> RelayResult:
        """Drain the outbox to the bus now (the CLI; a server does it on a timer)."""
        actor.require_scope("events:admin")
        return self.relay.drain()

    def consume(self, actor: Principal, name: str) -> ConsumeResult:
        """Run one durable consumer until it has nothing pending (the CLI, the demo)."""
        actor.require_scope("events:admin")
        consumer = StreamConsumer(self.bus, self.engine, self.handler(name), self.clock)
        return self._run(consumer.drain(), 3600)

    def consumers(self) -> list[StreamConsumer]:
        return [
            StreamConsumer(self.bus, self.engine, h, self.clock) for h in self.handlers.values()
        ]

    def start_consumers(self) -> tuple[asyncio.Event, list[asyncio.Task[None]]]:
        """Run every durable consumer on the bus's loop until the returned event is set."""

        async def start() -> tuple[asyncio.Event, list[asyncio.Task[None]]]:
            stop = asyncio.Event()
            tasks = [asyncio.create_task(c.run(stop)) for c in self.consumers()]
            return stop, tasks

        return self._run(start(), 10)

    def stop_consumers(self, stop: asyncio.Event, tasks: Sequence[asyncio.Task[None]]) -> None:
        async def halt() -> None:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)

        self._run(halt(), 30)

    def close(self) -> None:
        self.sink.close()

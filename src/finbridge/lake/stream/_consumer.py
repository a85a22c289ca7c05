"""Durable stream consumers: at-least-once delivery, an exactly-once effect.

A consumer fetches a batch, leaves out the events its ledger (``lake_stream_applied``) says are
already applied, hands the rest to its handler inside one database transaction that also writes
their ledger rows, commits, and only then acknowledges. So:

- killed before the commit: nothing is stored, nothing acknowledged; JetStream redelivers after
  ``ack_wait`` and the batch is applied then;
- killed after the commit, before the acks: the redelivered events are in the ledger and are
  acknowledged without a second effect;
- an acknowledgement sent twice is ignored (by the server, and by :func:`ack` here).

A handler whose effect lives outside the database (the lake's files, Redis windows) must be
idempotent by event id on its own; the lake's appends are (it keeps one row per event id).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from nats.aio.msg import Msg
from nats.errors import MsgAlreadyAckdError
from sqlalchemy import Engine, insert, select
from sqlalchemy.orm import Session

from finbridge.core.clock import Clock
from finbridge.lake.eventlake import EventLake
from finbridge.lake.events import Event
from finbridge.lake.stream._bus import JetStreamBus
from finbridge.lake.stream._codec import decode
from finbridge.lake.tables import StreamAppliedRow
from finbridge.store.engine import unit_of_work

log = logging.getLogger("finbridge.stream")


class StreamHandler(Protocol):
    """What a durable consumer does with its events."""

    @property
    def name(self) -> str:
        """The durable consumer's name (its ledger key)."""
        ...

    @property
    def event_types(self) -> tuple[str, ...]:
        """The event types it reads (empty: all)."""
        ...

    def apply(self, session: Session, events: Sequence[Event]) -> None:
        """Store the effect of ``events`` (none applied before) in ``session``'s transaction."""
        ...


@dataclass(frozen=True, slots=True)
class ConsumeResult:
    delivered: int
    applied: int
    skipped: int  # redelivered events whose effect was already stored


class LakeWriter:
    """The lake's durable consumer: every event into the event lake (its append API)."""

    name = "lake-writer"
    event_types: tuple[str, ...] = ()

    def __init__(self, lake: EventLake) -> None:
        self._lake = lake

    def apply(self, session: Session, events: Sequence[Event]) -> None:
        # The batch name follows the events, so a retried batch lands on the same files.
        self._lake.append(events, batch=f"stream-{events[0].event_id}")


async def ack(msg: Msg) -> None:
    """Acknowledge ``msg``; a second acknowledgement of the same message is harmless."""
    try:
        await msg.ack()
    except MsgAlreadyAckdError:
        log.debug("message %s acknowledged twice; ignored", msg.reply)


def apply_once(
    engine: Engine, handler: StreamHandler, delivered: Sequence[Event], clock: Clock
) -> tuple[int, int]:
    """Apply the events of ``delivered`` that ``handler`` has not applied yet, and record them
    in its ledger in the same transaction; returns (applied, skipped)."""
    events: dict[str, Event] = {}
    for event in delivered:
        events.setdefault(event.event_id, event)
    name = handler.name
    with unit_of_work(engine) as session:
        done = set(
            session.scalars(
                select(StreamAppliedRow.event_id).where(
                    StreamAppliedRow.consumer == name,
                    StreamAppliedRow.event_id.in_(list(events)),
                )
            )
        )
        fresh = [e for i, e in events.items() if i not in done]
        if fresh:
            handler.apply(session, fresh)
            now = clock.now()
            session.execute(
                insert(StreamAppliedRow),
                [{"consumer": name, "event_id": e.event_id, "applied_at": now} for e in fresh],
            )
    return len(fresh), len(delivered) - len(fresh)


class StreamConsumer:
    """One durable consumer: fetch, apply once, then acknowledge."""

    def __init__(
        self,
        bus: JetStreamBus,
        engine: Engine,
        handler: StreamHandler,
        clock: Clock,
        *,
        batch_size: int = 500,
    ) -> None:
        self.bus = bus
        self.engine = engine
        self.handler = handler
        self.clock = clock
        self.batch_size = batch_size
        self._sub: object | None = None

    async def fetch(self, timeout: float = 1.0) -> list[Msg]:
        if self._sub is None:
            self._sub = await self.bus.durable(self.handler.name, self.handler.event_types or None)
        try:
            return await self._sub.fetch(self.batch_size, timeout=timeout)  # type: ignore[attr-defined, no-any-return]
        except TimeoutError:  # nats-py raises its own or asyncio's when nothing came
            return []

    def store(self, msgs: Sequence[Msg]) -> tuple[int, int]:
        """Apply the new events among ``msgs`` and record them; returns (applied, skipped)."""
        return apply_once(self.engine, self.handler, [decode(m.data) for m in msgs], self.clock)

    async def run_once(self, timeout: float = 1.0) -> ConsumeResult:
        msgs = await self.fetch(timeout)
        if not msgs:
            return ConsumeResult(0, 0, 0)
        # The database work runs off the event loop, so heartbeats and other consumers go on.
        applied, skipped = await asyncio.to_thread(self.store, msgs)
        for m in msgs:
            await ack(m)
        return ConsumeResult(len(msgs), applied, skipped)

    async def drain(self, timeout: float = 1.0) -> ConsumeResult:
        """Consume until a fetch finds nothing."""
        delivered = applied = skipped = 0
        while True:
            r = await self.run_once(timeout)
            if r.delivered == 0:
                return ConsumeResult(delivered, applied, skipped)
            delivered += r.delivered
            applied += r.applied
            skipped += r.skipped

    async def run(self, stop: asyncio.Event, *, timeout: float = 1.0) -> None:
        """Consume until ``stop`` is set; a failed batch is left unacknowledged (redelivered)."""
        while not stop.is_set():
            try:
                await self.run_once(timeout)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("stream consumer %s failed; retrying", self.handler.name)
                self._sub = None
                await asyncio.sleep(timeout)

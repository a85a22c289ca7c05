"""The event stream, wired: the bus from the settings, the lake writer and the engines' durable
consumers (each engine's effect behind its own handler)."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

from finbridge.core.principal import Principal
from finbridge.platform._schema import SCHEMA_PACKAGES

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from finbridge.lake import Event
    from finbridge.lake.stream import EventStream
    from finbridge.platform._root import Platform


_ACTOR = Principal.system("stream")


def load_event_schemas() -> None:
    """Register every package's event schemas in this process.

    A relay to the bus refuses events no schema describes, and the relay may run in a process
    that never used the engine that emitted them (``serve`` relays the demo's events), so it
    must know them all before its first batch."""
    for name in SCHEMA_PACKAGES:
        try:
            importlib.import_module(f"finbridge.{name}.events")
        except ModuleNotFoundError as exc:
            if exc.name != f"finbridge.{name}.events":
                raise


def build_stream(platform: Platform) -> EventStream | None:
    """The platform's stream, or None when no event bus is configured (outbox -> lake only)."""
    url = platform.settings.event_bus
    if url is None:
        return None
    from finbridge.lake import EventLake
    from finbridge.lake.stream import EventStream

    load_event_schemas()
    return EventStream.build(
        url,
        platform.settings.stream,
        platform.engine,
        EventLake(platform.lake_dir),
        platform.clock,
        handlers=[RiskVelocityFeed(platform), AcquisitionProfilesFeed(platform)],
    )


class RiskVelocityFeed:
    """``risk-velocity``: spend the risk engine did not decide, into its velocity windows (so a
    decision gateway sharing them sees it). The face is resolved on first use: building the
    stream loads no engine."""

    name = "risk-velocity"

    def __init__(self, platform: Platform) -> None:
        from finbridge.risk import OBSERVED_TYPES

        self._platform = platform
        self.event_types: tuple[str, ...] = OBSERVED_TYPES

    def apply(self, session: Session, events: Sequence[Event]) -> None:
        self._platform.risk.observe_events(_ACTOR, session, events)


class AcquisitionProfilesFeed:
    """``acquisition-profiles``: engagement events into the stored customer profiles."""

    name = "acquisition-profiles"

    def __init__(self, platform: Platform) -> None:
        from finbridge.acquisition import PROFILE_EVENT_TYPES

        self._platform = platform
        self.event_types: tuple[str, ...] = PROFILE_EVENT_TYPES

    def apply(self, session: Session, events: Sequence[Event]) -> None:
        self._platform.acquisition.observe_events(_ACTOR, session, events)

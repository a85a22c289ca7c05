"""The event stream, wired: the bus from the settings, the lake writer and the engines' durable
consumers (each engine's effect behind its own handler)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from finbridge.platform._schema import SCHEMA_PACKAGES

if TYPE_CHECKING:
    from finbridge.lake.stream import EventStream
    from finbridge.platform._root import Platform


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
        url, platform.settings.stream, platform.engine, EventLake(platform.lake_dir), platform.clock
    )

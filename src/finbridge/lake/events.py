"""Typed, versioned events: the unit of the financial cloud's append-only log.

An :class:`Event` is the envelope; its ``payload`` is validated against the pydantic schema
registered for ``(event_type, schema_version)``. Engines publish events through the outbox
(:mod:`finbridge.lake.outbox`) inside their own database transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic import ValidationError as PydanticValidationError

from finbridge.core.clock import ensure_aware
from finbridge.core.errors import ValidationError
from finbridge.core.ids import new_id


class EventPayload(BaseModel):
    """Base of every event payload schema: strict about unknown fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)


_SCHEMAS: dict[tuple[str, int], type[EventPayload]] = {}


def register_schema(event_type: str, version: int = 1) -> Any:
    """Class decorator: register a payload schema for an event type and version."""

    def wrap(cls: type[EventPayload]) -> type[EventPayload]:
        key = (event_type, version)
        if key in _SCHEMAS and _SCHEMAS[key] is not cls:
            raise RuntimeError(f"schema for {event_type} v{version} registered twice")
        _SCHEMAS[key] = cls
        return cls

    return wrap


def schema_for(event_type: str, version: int) -> type[EventPayload]:
    try:
        return _SCHEMAS[(event_type, version)]
    except KeyError:
        versions = sorted(v for t, v in _SCHEMAS if t == event_type)
        if versions:
            raise ValidationError(
                f"{event_type} has no schema version {version} (known: {versions})",
                field="schema_version",
            ) from None
        known = sorted({t for t, _ in _SCHEMAS})
        raise ValidationError(
            f"unknown event type/version {event_type!r} v{version}; known types: {known}",
            field="event_type",
        ) from None


def known_event_types() -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for event_type, version in sorted(_SCHEMAS):
        out.setdefault(event_type, []).append(version)
    return out


@dataclass(frozen=True, slots=True)
class Event:
    """One immutable fact that happened at ``occurred_at``."""

    event_type: str
    occurred_at: datetime
    payload: dict[str, Any]
    source: str
    subject_id: str | None = None
    schema_version: int = 1
    event_id: str = field(default_factory=new_id)

    def __post_init__(self) -> None:
        object.__setattr__(self, "occurred_at", ensure_aware(self.occurred_at))

    def validated(self) -> Event:
        """Return the event with its payload checked (and normalised) by its schema."""
        model = schema_for(self.event_type, self.schema_version)
        try:
            clean = model.model_validate(self.payload).model_dump(mode="json")
        except PydanticValidationError as exc:
            first = exc.errors()[0]
            loc = ".".join(str(p) for p in first["loc"])
            raise ValidationError(f"{first['msg']}", field=f"payload.{loc}") from None
        return Event(
            event_type=self.event_type,
            occurred_at=self.occurred_at,
            payload=clean,
            source=self.source,
            subject_id=self.subject_id,
            schema_version=self.schema_version,
            event_id=self.event_id,
        )

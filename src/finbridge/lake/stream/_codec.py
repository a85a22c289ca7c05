"""Events on the wire: one JSON document per message, the subject named after the event type."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from finbridge.core.errors import ValidationError
from finbridge.lake.events import Event, schema_for

# A subject token must not hold NATS wildcards, separators we do not expect or whitespace; the
# lake's own event-type rule (lower-case words joined by dots) is the one we keep.
_TYPE_TOKENS = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$")
MSG_ID = "Nats-Msg-Id"


def subject_for(prefix: str, event_type: str) -> str:
    """The subject an event type is published on: ``<prefix>.<event type>``."""
    if not _TYPE_TOKENS.match(event_type):
        raise ValidationError(
            f"event type {event_type!r} cannot name a stream subject", field="event_type"
        )
    return f"{prefix}.{event_type}"


def check_publishable(event_type: str, schema_version: int) -> None:
    """Refuse an event no registered schema describes (unknown type or version): consumers
    could not read it. Raises :class:`ValidationError` naming what is wrong."""
    subject_for("x", event_type)
    schema_for(event_type, schema_version)


def encode(event: Event) -> bytes:
    return json.dumps(
        {
            "event_id": event.event_id,
            "event_type": event.event_type,
            "schema_version": event.schema_version,
            "occurred_at": event.occurred_at.isoformat(),
            "subject_id": event.subject_id,
            "source": event.source,
            "payload": event.payload,
        },
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()


def decode(data: bytes) -> Event:
    doc: dict[str, Any] = json.loads(data)
    return Event(
        event_type=doc["event_type"],
        occurred_at=datetime.fromisoformat(doc["occurred_at"]),
        payload=doc["payload"],
        source=doc["source"],
        subject_id=doc.get("subject_id"),
        schema_version=int(doc["schema_version"]),
        event_id=doc["event_id"],
    )

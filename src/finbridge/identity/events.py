"""Identity's events in the lake: ``login`` (the lake's common schema) and ``identity.*``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import StringConstraints
from sqlalchemy.orm import Session

import finbridge.lake.schemas  # noqa: F401 - registers the shared ``login`` schema
from finbridge.lake import Event, EventPayload, emit, register_schema

SOURCE = "identity"
Short = Annotated[str, StringConstraints(max_length=64)]


@register_schema("identity.auth", 1)
class AuthEventV1(EventPayload):
    """Any authentication or credential event (the audit log has the full, chained record)."""

    action: Short
    outcome: Literal["success", "failure", "refused"]
    method: Short | None = None
    session_id: Short | None = None
    reason: Annotated[str, StringConstraints(max_length=200)] | None = None


@register_schema("identity.customer_registered", 1)
class CustomerRegisteredV1(EventPayload):
    id_type: Short
    id_country: Short
    birth_year: int
    kyc_status: Short


@register_schema("identity.consent_changed", 1)
class ConsentChangedV1(EventPayload):
    consent_id: Short
    purpose: Short
    scope: list[Short]
    granted: bool


def emit_auth(
    session: Session,
    at: datetime,
    *,
    action: str,
    outcome: str,
    customer_id: str | None,
    method: str | None = None,
    session_id: str | None = None,
    reason: str | None = None,
    ip: str | None = None,
) -> None:
    payload = {
        "action": action,
        "outcome": outcome,
        "method": method,
        "session_id": session_id,
        "reason": reason,
    }
    events = [Event("identity.auth", at, payload, SOURCE, subject_id=customer_id)]
    login_method = {"password": "password", "totp": "totp", "passkey": "passkey", "face": "face"}
    if action.startswith("login") and method in login_method:
        login = {"method": method, "success": outcome == "success", "channel": "api"}
        if reason:
            login["failure_reason"] = reason
        if ip:
            login["ip"] = ip[:45]  # the client address, as the API saw it
        events.append(Event("login", at, login, SOURCE, subject_id=customer_id))
    emit(session, *events)

"""The common event schemas: strict types, unknown fields refused, errors naming the field."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from finbridge.core.errors import ValidationError
from finbridge.lake import COMMON_EVENT_TYPES, Event, known_event_types

AT = datetime(2026, 11, 1, tzinfo=UTC)

VALID: list[tuple[str, dict[str, Any]]] = [
    ("login", {"method": "password", "success": True}),
    ("login", {"method": "face", "success": False, "failure_reason": "no match", "ip": "::1"}),
    ("page.viewed", {"page": "/accounts", "duration_ms": 1200, "session_id": "s-1"}),
    ("news.read", {"article_id": "n-42", "category": "markets", "read_seconds": 35}),
    ("app.opened", {"app_version": "5.2.1", "platform": "android"}),
    (
        "card.transaction",
        {
            "transaction_id": "tx-1",
            "customer_id": "c-1",
            "terminal_id": "t-9",
            "currency": "CNY",
            "amount": "57.16",
        },
    ),
    (
        "card.transaction",
        {
            "transaction_id": "tx-2",
            "customer_id": "c-1",
            "terminal_id": "t-9",
            "currency": "JPY",
            "amount": "1200",
            "kind": "refund",
            "fraud_label": False,
        },
    ),
]

CARD = {"transaction_id": "tx", "customer_id": "c", "terminal_id": "t", "currency": "USD"}
INVALID: list[tuple[str, dict[str, Any], str, str]] = [
    ("login", {"method": "password"}, "payload.success", "required"),
    ("login", {"method": "carrier pigeon", "success": True}, "payload.method", "Input should be"),
    ("login", {"method": "password", "success": "yes"}, "payload.success", "valid boolean"),
    ("page.viewed", {"page": "/x", "duration_ms": "12"}, "payload.duration_ms", "valid integer"),
    ("page.viewed", {"page": "/x", "color": "red"}, "payload.color", "Extra inputs"),
    ("news.read", {"article_id": "a b"}, "payload.article_id", "pattern"),
    ("app.opened", {"app_version": "1", "platform": "symbian"}, "payload.platform", "Input"),
    ("card.transaction", {**CARD, "amount": 12.5}, "payload.amount", "valid string"),
    ("card.transaction", {**CARD, "amount": "-3.00"}, "payload.amount", "positive decimal"),
    ("card.transaction", {**CARD, "amount": "0"}, "payload.amount", "greater than zero"),
    ("card.transaction", {**CARD, "amount": "1.001"}, "payload.amount", "decimal places"),
    ("card.transaction", {**CARD, "currency": "XXX", "amount": "1"}, "payload.currency", "XXX"),
    ("card.transaction", {**CARD, "amount": "1", "kind": "chargeback"}, "payload.kind", "Input"),
]


@pytest.mark.parametrize(("event_type", "payload"), VALID)
def test_valid_payloads_pass(event_type: str, payload: dict[str, Any]) -> None:
    event = Event(event_type, AT, payload, source="test").validated()
    assert {k: event.payload[k] for k in payload} == payload


@pytest.mark.parametrize(("event_type", "payload", "field", "message"), INVALID)
def test_invalid_payloads_name_the_field(
    event_type: str, payload: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(ValidationError, match=message) as info:
        Event(event_type, AT, payload, source="test").validated()
    assert info.value.field == field


def test_amount_is_normalised_to_the_currency_minor_unit() -> None:
    event = Event("card.transaction", AT, {**CARD, "amount": "12.5"}, source="t").validated()
    assert event.payload["amount"] == "12.50"
    assert event.payload["kind"] == "purchase"


def test_every_common_type_has_version_1() -> None:
    registry = known_event_types()
    for event_type in COMMON_EVENT_TYPES:
        assert 1 in registry[event_type], event_type


def test_unknown_type_and_unknown_version_are_told_apart() -> None:
    with pytest.raises(ValidationError, match="unknown event type") as info:
        Event("page.flipped", AT, {}, source="t").validated()
    assert info.value.field == "event_type"
    with pytest.raises(ValidationError, match="no schema version 7") as info:
        Event("login", AT, {"method": "totp", "success": True}, "t", schema_version=7).validated()
    assert info.value.field == "schema_version"


def test_naive_occurred_at_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        Event("login", datetime(2026, 11, 1), {"method": "totp", "success": True}, source="t")

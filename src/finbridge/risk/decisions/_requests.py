"""The decision request: the boundary where an incoming event is checked field by field."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictInt, StrictStr
from pydantic import ValidationError as PydanticValidationError

from finbridge.core.errors import ValidationError
from finbridge.core.inputs import parse_json
from finbridge.core.money import Money
from finbridge.risk.rules._spec import EVENT_TYPES

EventType = Literal[
    "login", "payment", "transfer", "withdrawal", "credit_application", "profile_change"
]
MONEY_EVENTS = ("payment", "transfer", "withdrawal", "credit_application")
# Velocity state is kept per family so a login burst and a spending burst are different facts.
FAMILY = {
    "login": "login",
    "payment": "money",
    "transfer": "money",
    "withdrawal": "money",
    "credit_application": "credit",
    "profile_change": "profile",
}

Id = Field(default=None, min_length=1, max_length=64)


class DecisionRequestModel(BaseModel):
    """An event asking for a decision. Unknown fields are refused; amounts are never floats."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    event_type: EventType
    occurred_at: AwareDatetime
    customer_id: StrictStr = Field(min_length=1, max_length=64)
    event_id: StrictStr | None = Id
    amount: StrictStr | StrictInt | None = None
    currency: StrictStr = Field(default="CNY", min_length=3, max_length=3)
    device_id: StrictStr | None = Id
    ip: StrictStr | None = Field(default=None, min_length=3, max_length=45)
    card_id: StrictStr | None = Id
    account_id: StrictStr | None = Id
    terminal_id: StrictStr | None = Id
    merchant_id: StrictStr | None = Id
    payee_id: StrictStr | None = Id
    channel: StrictStr | None = Field(default=None, max_length=32)
    country: StrictStr | None = Field(default=None, max_length=2)
    changed_field: StrictStr | None = Field(default=None, max_length=64)


@dataclass(frozen=True, slots=True)
class DecisionRequest:
    event_type: str
    occurred_at: datetime
    customer_id: str
    event_id: str | None
    amount: Money
    device_id: str | None = None
    ip: str | None = None
    card_id: str | None = None
    account_id: str | None = None
    terminal_id: str | None = None
    payee_id: str | None = None
    channel: str = ""
    country: str = ""
    changed_field: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The wire form, as stored with the decision for point-in-time replays."""
        out: dict[str, Any] = {
            "event_type": self.event_type,
            "occurred_at": self.occurred_at.isoformat(),
            "customer_id": self.customer_id,
            "event_id": self.event_id,
            "amount": str(self.amount.amount),
            "currency": self.amount.code,
        }
        for name in ("device_id", "ip", "card_id", "account_id", "terminal_id", "payee_id"):
            if value := getattr(self, name):
                out[name] = value
        if self.channel:
            out["channel"] = self.channel
        if self.country:
            out["country"] = self.country
        if self.changed_field:
            out["changed_field"] = self.changed_field
        return out

    @property
    def family(self) -> str:
        return FAMILY[self.event_type]

    def entity_keys(self) -> dict[str, str | None]:
        return {
            "customer": self.customer_id,
            "device": self.device_id,
            "ip": self.ip,
            "card": self.card_id,
            "account": self.account_id,
            "terminal": self.terminal_id,
            "payee": self.payee_id,
        }


def parse_request(data: Mapping[str, Any] | DecisionRequestModel) -> DecisionRequest:
    """Check an incoming event; every error names the offending field."""
    if not isinstance(data, DecisionRequestModel) and isinstance(data.get("amount"), float):
        raise ValidationError(
            "amount must be a decimal string or an integer, never a float", field="amount"
        )
    try:
        m = (
            data
            if isinstance(data, DecisionRequestModel)
            else DecisionRequestModel.model_validate(dict(data))
        )
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        where = str(first["loc"][0]) if first["loc"] else "body"
        raise ValidationError(f"{first['msg']}", field=where) from None
    if m.event_type in MONEY_EVENTS and m.amount is None:
        raise ValidationError(f"a {m.event_type} needs an amount", field="amount")
    amount = Money.of(m.amount if m.amount is not None else 0, m.currency)
    if amount.is_negative():
        raise ValidationError("amount must not be negative", field="amount")
    if m.event_type == "transfer" and not m.payee_id:
        raise ValidationError("a transfer needs payee_id", field="payee_id")
    if m.event_type == "payment" and not (m.merchant_id or m.terminal_id or m.payee_id):
        raise ValidationError(
            "a payment needs merchant_id, terminal_id or payee_id", field="merchant_id"
        )
    if m.event_type == "login" and not (m.device_id or m.ip):
        raise ValidationError("a login needs device_id or ip", field="device_id")
    if m.event_type == "profile_change" and not m.changed_field:
        raise ValidationError("a profile change needs changed_field", field="changed_field")
    assert m.event_type in EVENT_TYPES
    return DecisionRequest(
        event_type=m.event_type,
        occurred_at=m.occurred_at,
        customer_id=m.customer_id,
        event_id=m.event_id,
        amount=amount,
        device_id=m.device_id,
        ip=m.ip,
        card_id=m.card_id,
        account_id=m.account_id,
        terminal_id=m.terminal_id or m.merchant_id,
        payee_id=m.payee_id,
        channel=m.channel or "",
        country=(m.country or "").upper(),
        changed_field=m.changed_field,
    )


def json_body(body: bytes) -> dict[str, Any]:
    """A decision request's raw body as a JSON object, or a 422 naming ``body``: the one parser
    the API route and the decision gateway share, so both answer bad input alike."""
    # The platform's input rule: nesting depth, control characters, 64-bit integers.
    data = parse_json(body)
    if not isinstance(data, dict):
        raise ValidationError("the body must be a JSON object", field="body")
    return data

"""Common event payload schemas of the financial cloud (version 1 of each).

Engines register their own domain events next to their code (banking registers
``transaction.posted`` in ``finbridge.banking.events``); these are the channel and partner events
every area reads: logins, page views, news reads, app opens and partner card transactions.

The schemas are *strict*: no type coercion (``"1"`` is not an int, ``12.5`` is not an amount) and
no unknown fields, so a partner's mistakes surface in the rejection report instead of being
silently "fixed".
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, StringConstraints, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from finbridge.core.errors import ValidationError as FinbridgeValidationError
from finbridge.core.money import Money
from finbridge.lake.events import EventPayload, register_schema

# Identifiers partners send us: printable, no whitespace, bounded.
Ident = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[\w.:@/\-]+$")]
Text = Annotated[str, StringConstraints(min_length=1, max_length=512)]
Channel = Literal["web", "app", "api", "branch", "partner"]

_AMOUNT = re.compile(r"^\d{1,15}(\.\d{1,4})?$")


def _invalid(message: str) -> PydanticCustomError:
    # A custom error keeps the message as written (ValueError gets a "Value error, " prefix).
    return PydanticCustomError("invalid_value", message)


class StrictPayload(EventPayload):
    """Payload base for partner-facing schemas: strict types, unknown fields refused."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


@register_schema("login", 1)
class LoginV1(StrictPayload):
    """A sign-in attempt (successful or not) on any channel."""

    method: Literal["password", "totp", "passkey", "face", "sms", "api_key"]
    success: bool
    channel: Channel = "app"
    ip: Annotated[str, StringConstraints(max_length=45)] | None = None
    user_agent: Annotated[str, StringConstraints(max_length=512)] | None = None
    failure_reason: Text | None = None


@register_schema("page.viewed", 1)
class PageViewedV1(StrictPayload):
    """A page or screen shown to a customer."""

    page: Annotated[str, StringConstraints(min_length=1, max_length=2048)]
    referrer: Annotated[str, StringConstraints(max_length=2048)] | None = None
    session_id: Ident | None = None
    duration_ms: Annotated[int, Field(ge=0, le=86_400_000)] | None = None
    channel: Channel = "web"


@register_schema("news.read", 1)
class NewsReadV1(StrictPayload):
    """A customer opened a news article (input for advisory and acquisition interest models)."""

    article_id: Ident
    title: Text | None = None
    category: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    read_seconds: Annotated[int, Field(ge=0, le=86_400)] | None = None
    channel: Channel = "app"


@register_schema("app.opened", 1)
class AppOpenedV1(StrictPayload):
    """The mobile or web app was brought to the foreground."""

    app_version: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    platform: Literal["ios", "android", "harmonyos", "web"]
    device_id: Ident | None = None
    session_id: Ident | None = None


@register_schema("card.transaction", 1)
class CardTransactionV1(StrictPayload):
    """A card payment at a partner terminal (merchant), e.g. from a card scheme or acquirer feed.

    ``amount`` is a positive decimal *string* (never a JSON number) with no more decimal places
    than ``currency`` allows; refunds are ``kind="refund"`` with a positive amount.
    """

    transaction_id: Ident
    customer_id: Ident
    terminal_id: Ident
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
    amount: str
    kind: Literal["purchase", "refund"] = "purchase"
    merchant_category: Annotated[str, StringConstraints(pattern=r"^\d{4}$")] | None = None
    fraud_label: bool | None = None  # known outcome, when the feed carries one (simulated data)
    fraud_scenario: Annotated[int, Field(ge=0, le=99)] | None = None

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, value: str) -> str:
        try:
            Money.of("0", value)
        except FinbridgeValidationError as exc:
            raise _invalid(exc.detail) from None
        return value

    @field_validator("amount")
    @classmethod
    def _exact_amount(cls, value: str, info: ValidationInfo) -> str:
        if not _AMOUNT.match(value):
            raise _invalid("amount must be a positive decimal string such as '12.50'")
        if Decimal(value) <= 0:
            raise _invalid("amount must be greater than zero")
        code = info.data.get("currency")
        if code is None:  # currency itself was invalid; that error is reported on its own
            return value
        try:
            return str(Money.of(value, code).amount)
        except FinbridgeValidationError as exc:
            raise _invalid(exc.detail) from None


COMMON_EVENT_TYPES: tuple[str, ...] = (
    "login",
    "page.viewed",
    "news.read",
    "app.opened",
    "card.transaction",
)

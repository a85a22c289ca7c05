"""Wire types shared by every area: decimal-string amounts, ISO currency codes, pages."""

from __future__ import annotations

import re
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, StringConstraints

_DECIMAL = re.compile(r"^\d{1,15}(\.\d{1,9})?$")


def _amount_string(value: Any) -> str:
    # A JSON number becomes a binary float in most clients before we ever see it, so amounts
    # travel as strings; refusing numbers outright keeps every client honest.
    if isinstance(value, (bool, int, float)):
        raise ValueError('amount must be a decimal string such as "12.50", not a JSON number')
    if not isinstance(value, str):
        raise ValueError('amount must be a decimal string such as "12.50"')
    text = value.strip()
    if text.startswith("-"):
        raise ValueError("amount must be positive")
    if not _DECIMAL.match(text):
        raise ValueError('amount must be a plain positive decimal string such as "12.50"')
    if not any(ch in "123456789" for ch in text):
        raise ValueError("amount must be greater than zero")
    return text


PositiveAmount = Annotated[str, BeforeValidator(_amount_string)]
"""A positive decimal amount as a JSON string; currency precision is checked against ``Money``."""

CurrencyCode = Annotated[str, StringConstraints(min_length=3, max_length=3, pattern=r"^[A-Z]{3}$")]
IdempotencyKeyText = Annotated[
    str, StringConstraints(min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$")
]
EntityId = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class WireModel(BaseModel):
    """Request bodies: unknown fields are errors (a typo must not be ignored silently)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class MoneyPublic(BaseModel):
    amount: str
    currency: str


T = TypeVar("T")


class PagePublic(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None

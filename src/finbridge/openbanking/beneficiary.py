"""A cross-border consent's beneficiary, checked in full before the customer sees the consent.

The rule is payments' (the SWIFT character set, the country, the IBAN's check digits, national
ones included, its length and BBAN format, the BIC's structure and its existence in schwifty's
registry, IBAN/BIC/country agreement), reached through the :class:`CrossBorderPort` so it is
written once and a payment sent abroad from the app meets the same checks. It runs at the pushed
request, because a consent lives for months and an app should learn at once, not at its first
payment, that its customer's beneficiary cannot be paid.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from finbridge.core.errors import ValidationError


def check(
    beneficiary: Mapping[str, Any], payments_rule: Callable[[Mapping[str, Any]], None] | None
) -> None:
    """Payments' rule, when this process can send abroad (without a cross-border desk no
    payment abroad can be made either); a ``ValidationError`` naming the field inside
    ``authorization_details``."""
    if payments_rule is None:
        return
    try:
        payments_rule(beneficiary)
    except ValidationError as exc:
        field = exc.field or "beneficiary"
        raise ValidationError(exc.detail, field=f"authorization_details.{field}") from None

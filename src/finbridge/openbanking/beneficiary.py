"""A cross-border consent's beneficiary, checked in full before the customer sees the consent.

Payments' rule (the SWIFT character set, the country, the IBAN's ISO 7064 check digits, length
and BBAN format for its country, the BIC's structure, IBAN/BIC/country agreement) is reached
through the :class:`CrossBorderPort`, so it stays written once, in payments. What schwifty's
registry adds on top is checked here, because a consent lives for months and an app should
learn at once, not at its first payment, that its customer's beneficiary cannot be paid:

- the national check digits inside the BBAN, where schwifty knows the country's algorithm;
- the BIC's existence (the code or its institution's head office ``XXX``), where schwifty's
  registry lists that country's banks (47 countries in schwifty 2026.10); elsewhere the
  structure check is all there is.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any

from finbridge.core.errors import ValidationError

FIELD = "authorization_details.beneficiary"


def check(
    beneficiary: Mapping[str, Any], payments_rule: Callable[[Mapping[str, Any]], None] | None
) -> None:
    """Payments' rule (when this process can send abroad), then the registry's checks; a
    ``ValidationError`` naming the field inside ``authorization_details``."""
    if payments_rule is not None:
        try:
            payments_rule(beneficiary)
        except ValidationError as exc:
            field = exc.field or "beneficiary"
            raise ValidationError(exc.detail, field=f"authorization_details.{field}") from None
    check_registered(beneficiary)


def check_registered(beneficiary: Mapping[str, Any]) -> None:
    """The registry-backed checks; ``ValidationError`` naming the field."""
    from schwifty import BIC, IBAN, registry
    from schwifty.exceptions import NationalChecksumNotVerified, SchwiftyException

    iban = beneficiary.get("iban")
    if iban:
        try:
            with warnings.catch_warnings():
                # No algorithm for the country: the digits cannot be checked, which is no fault.
                warnings.simplefilter("ignore", NationalChecksumNotVerified)
                IBAN(iban, validate_bban=True)
        except (SchwiftyException, TypeError, ValueError) as exc:
            raise ValidationError(f"invalid IBAN: {exc}", field=f"{FIELD}.iban") from None
    try:
        bic = BIC(beneficiary.get("bic") or "")
    except (SchwiftyException, TypeError, ValueError) as exc:
        raise ValidationError(f"invalid BIC: {exc}", field=f"{FIELD}.bic") from None
    if registry.get_banks_by_country(bic.country_code):
        # The exact code, or its institution's head office (registries list few branches).
        codes = (str(bic), str(bic)[:8] + "XXX")
        if not any(registry.get_banks_by_bic(code) for code in codes):
            raise ValidationError(
                f"the BIC {bic} is not a bank in {bic.country_code}'s registry",
                field=f"{FIELD}.bic",
            )

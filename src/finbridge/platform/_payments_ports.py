"""The payments face and the port the platform fills for it (identity's phone directory)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from finbridge.payments import PaymentsService
    from finbridge.platform._root import Platform


class _PhoneDirectory:
    """Payments' ``CustomerDirectory``: identity finds a customer by mobile number through its
    blind index; payments never sees a phone number it was not given."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    def customer_by_phone(self, phone: str) -> str | None:
        return self._platform.identity.persons.find_by_phone(phone)


def build_payments(platform: Platform) -> PaymentsService:
    from finbridge.payments import PaymentsService

    return PaymentsService.build(
        platform.engine, platform.clock, platform.settings,
        banking=platform.banking, directory=_PhoneDirectory(platform),
    )  # fmt: skip

"""The open-banking face and the port the platform fills for it (identity's step-up)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from finbridge.openbanking import OpenBankingService
    from finbridge.platform._root import Platform


def build_openbanking(platform: Platform) -> OpenBankingService:
    from finbridge.openbanking import OpenBankingService

    # Payments initiated by apps move money with banking's guarded transfer (the one posting
    # path); payment consents need identity's fresh second factor.
    return OpenBankingService.build(
        platform.engine, platform.clock, platform.settings,
        banking=platform.banking, second_factor=platform.identity.step_up,
    )  # fmt: skip

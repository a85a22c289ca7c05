"""The open-banking face and the ports the platform fills for it (identity's step-up,
payments' cross-border desk)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from finbridge.core.money import Money
from finbridge.core.principal import Principal
from finbridge.openbanking.ports import SentAbroad

if TYPE_CHECKING:
    from finbridge.openbanking import OpenBankingService
    from finbridge.payments import Beneficiary, CrossBorder
    from finbridge.platform._root import Platform


class PaymentsCrossBorder:
    """Open banking's cross-border payments sent by payments' desk (validation, the hold,
    screening and the pacs.008 are all payments'); built lazily so a domestic-only process never
    loads payments."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    def send(
        self,
        actor: Principal,
        *,
        from_account_id: str,
        amount: Money,
        beneficiary: Mapping[str, Any],
        idempotency_key: str,
        remittance: str,
    ) -> SentAbroad:
        sent = self._platform.payments.crossborder.send(
            actor,
            from_account_id=from_account_id,
            amount=amount,
            beneficiary=_beneficiary(beneficiary),
            idempotency_key=idempotency_key,
            remittance=remittance,
        )
        return _sent(sent)

    def status(self, actor: Principal, transfer_id: str) -> SentAbroad:
        return _sent(self._platform.payments.crossborder.get(actor, transfer_id))

    def check_beneficiary(self, beneficiary: Mapping[str, Any]) -> None:
        from finbridge.payments.crossborder import check_beneficiary

        check_beneficiary(_beneficiary(beneficiary))


class PartnerKeys:
    """An approved developer's partner key, issued by identity's API keys."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    def issue_partner_key(self, name: str) -> tuple[str, str]:
        from finbridge.core.principal import Role

        issued = self._platform.api_keys.issue(name[:100], [Role.PARTNER])
        return issued.key.id, issued.plaintext


def _beneficiary(b: Mapping[str, Any]) -> Beneficiary:
    from finbridge.payments import Beneficiary

    return Beneficiary(
        name=b["name"], country=b["country"], bic=b["bic"], iban=b.get("iban"),
        account=b.get("account"), address_lines=tuple(b.get("address_lines") or ()),
    )  # fmt: skip


def _sent(transfer: CrossBorder) -> SentAbroad:
    return SentAbroad(transfer.id, transfer.status, transfer.reason)


def build_openbanking(platform: Platform) -> OpenBankingService:
    from finbridge.openbanking import OpenBankingService

    # Payments initiated by apps move money with banking's guarded transfer (the one posting
    # path) or payments' cross-border desk; payment consents need identity's fresh factor.
    return OpenBankingService.build(
        platform.engine, platform.clock, platform.settings,
        banking=platform.banking, second_factor=platform.identity.step_up,
        cross_border=PaymentsCrossBorder(platform), partner_keys=PartnerKeys(platform),
    )  # fmt: skip

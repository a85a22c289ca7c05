"""What open banking needs from other engines, as small protocols the platform fills."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from finbridge.core.money import Money
from finbridge.core.principal import Principal


class SecondFactorPort(Protocol):
    """Identity's step-up: raise ``StepUpRequired`` unless the customer's session holds a fresh
    second factor for ``action`` (``demanded`` asks even for actions not listed high-risk)."""

    def require_step_up(
        self, principal: Principal, action: str, *, demanded: bool = False
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class SentAbroad:
    """What payments' cross-border desk made of a payment: its transfer and where it stands."""

    transfer_id: str
    status: str
    reason: str | None = None


class CrossBorderPort(Protocol):
    """Payments' cross-border desk: hold the money, screen the beneficiary, queue the pacs.008
    (``actor`` is the app acting for its customer; a retry of ``idempotency_key`` answers with
    the first transfer). Faults are raised as ``FinbridgeError`` naming the field."""

    def send(
        self,
        actor: Principal,
        *,
        from_account_id: str,
        amount: Money,
        beneficiary: Mapping[str, Any],
        idempotency_key: str,
        remittance: str,
    ) -> SentAbroad: ...

    def status(self, actor: Principal, transfer_id: str) -> SentAbroad: ...

    def check_beneficiary(self, beneficiary: Mapping[str, Any]) -> None:
        """Payments' beneficiary rule (character set, country, IBAN, BIC and their agreement):
        ``ValidationError`` naming the ``beneficiary.<field>`` at fault."""
        ...


class PartnerKeyPort(Protocol):
    """Identity's API keys: a new ``partner`` key for an approved developer; the key id and the
    plaintext (shown once, never stored by open banking)."""

    def issue_partner_key(self, name: str) -> tuple[str, str]: ...

"""Value objects the payments service returns (frozen; no ORM rows leak out)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from finbridge.core.money import Money


class Tier(StrEnum):
    STANDARD = "standard"
    PREMIER = "premier"


class Channel(StrEnum):
    QR = "qr"
    P2P = "p2p"


@dataclass(frozen=True, slots=True)
class Quote:
    """An FX quote: the customer pays ``sell`` (``fee`` included) and receives ``buy``."""

    id: str
    customer_id: str
    sell: Money
    fee: Money
    buy: Money
    rate: Decimal  # bank rate: units of buy per unit of sell, after the spread
    reference_rate: Decimal
    reference_date: date
    spread_bps: int
    tier: Tier
    status: str
    created_at: datetime
    expires_at: datetime
    entry_id: str | None = None


@dataclass(frozen=True, slots=True)
class Conversion:
    quote: Quote
    entry_id: str
    from_account_id: str
    to_account_id: str


@dataclass(frozen=True, slots=True)
class FxPosition:
    """The bank's FX position in one currency and its value in CNY at the reference rate."""

    currency: str
    position: Money
    cny_equivalent: Money | None


@dataclass(frozen=True, slots=True)
class Merchant:
    id: str
    name: str
    mcc: str
    customer_id: str
    settlement_account_id: str
    currency: str
    fee_rate: Decimal
    status: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PaymentCode:
    """A payment code and the signed payload its QR carries."""

    id: str
    merchant_id: str
    kind: str  # static | dynamic
    amount: Money | None
    currency: str
    reference: str
    expires_at: datetime | None
    payload: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class CodePreview:
    """What a payer sees after scanning, before paying."""

    code_id: str
    merchant_id: str
    merchant_name: str
    amount: Money | None
    currency: str
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class Payment:
    id: str
    kind: str  # merchant | p2p
    channel: str
    payer_customer_id: str
    payer_account_id: str
    payee_account_id: str
    merchant_id: str | None
    amount: Money
    fee: Money
    refunded: Money
    status: str
    entry_id: str | None
    description: str
    created_at: datetime
    replayed: bool = False
    purchase_id: str | None = None  # lending's purchase when paid from a credit line


@dataclass(frozen=True, slots=True)
class Refund:
    id: str
    payment_id: str
    amount: Money
    fee_returned: Money
    entry_id: str | None
    created_at: datetime
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class Payee:
    """The payee as a payer may see them before confirming: a masked name only."""

    customer_id: str
    account_id: str
    masked_name: str
    currency: str


@dataclass(frozen=True, slots=True)
class MoneyRequest:
    id: str
    requester_customer_id: str
    to_account_id: str
    amount: Money
    note: str
    status: str
    expires_at: datetime
    payment_id: str | None
    created_at: datetime

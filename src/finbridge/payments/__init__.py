"""Payments: merchants and P2P, multi-currency wallets, FX quotes (issue 15).

The face interfaces use: :class:`PaymentsService` (built once per platform by
:meth:`PaymentsService.build`; desks ``fx``, ``merchants``, ``payments``), its value objects and
the :class:`CustomerDirectory` port the platform fills from identity. Money moves only on the
banking ledger (``BankingService.post_journal`` / ``transfer``), so every payment passes the
platform's posting guard (risk, then identity's step-up).
"""

from finbridge.payments.codes import qr_png, qr_svg
from finbridge.payments.correspondent import Answer, SimulatedCorrespondent
from finbridge.payments.crossborder import (
    SCREENING_ORIGIN,
    Beneficiary,
    CaseQueue,
    CrossBorder,
    Report,
)
from finbridge.payments.fx import bought, needed
from finbridge.payments.lines import CreditLines, LinePurchase, NoCreditLines
from finbridge.payments.models import (
    Channel,
    CodePreview,
    Conversion,
    FxPosition,
    Merchant,
    MoneyRequest,
    Payee,
    Payment,
    PaymentCode,
    Quote,
    Refund,
    Tier,
)
from finbridge.payments.pay import CustomerDirectory, mask_name
from finbridge.payments.rates import ReferenceRate, ReferenceRates
from finbridge.payments.service import PaymentsService
from finbridge.payments.settlement import SettlementFile, SettlementLine, SettlementRun

__all__ = [
    "SCREENING_ORIGIN",
    "Answer",
    "Beneficiary",
    "CaseQueue",
    "Channel",
    "CodePreview",
    "Conversion",
    "CreditLines",
    "CrossBorder",
    "CustomerDirectory",
    "FxPosition",
    "LinePurchase",
    "Merchant",
    "MoneyRequest",
    "NoCreditLines",
    "Payee",
    "Payment",
    "PaymentCode",
    "PaymentsService",
    "Quote",
    "ReferenceRate",
    "ReferenceRates",
    "Refund",
    "Report",
    "SettlementFile",
    "SettlementLine",
    "SettlementRun",
    "SimulatedCorrespondent",
    "Tier",
    "bought",
    "mask_name",
    "needed",
    "qr_png",
    "qr_svg",
]

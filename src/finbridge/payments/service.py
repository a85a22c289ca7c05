"""The payments engine's face for interfaces: one object per platform with its desks.

``fx`` (quotes, conversions, positions, rates), ``merchants`` (onboarding, payment codes),
``payments`` (merchant payments, refunds, P2P, request-money links) and ``crossborder``
(ISO 20022 transfers abroad), ``statements`` (camt.053). Every method takes the
acting principal first and authorises it; money moves only through banking's ledger.
"""

from __future__ import annotations

from sqlalchemy import Engine

from finbridge.banking import BankingService
from finbridge.core.clock import Clock
from finbridge.core.settings import Settings
from finbridge.payments import events as _events  # noqa: F401 - registers the event schemas
from finbridge.payments.codes import derive_key
from finbridge.payments.crossborder import CaseQueue, CrossBorderDesk
from finbridge.payments.fx import FxDesk
from finbridge.payments.limits import Limits
from finbridge.payments.lines import CreditLines, NoCreditLines
from finbridge.payments.merchants import MerchantDesk
from finbridge.payments.pay import CustomerDirectory, NoDirectory, PaymentDesk
from finbridge.payments.rates import ReferenceRates
from finbridge.payments.screening import DEMO_LIST, ScreeningList
from finbridge.payments.settlement import SettlementDesk
from finbridge.payments.statements import StatementDesk


class PaymentsService:
    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        settings: Settings,
        *,
        banking: BankingService,
        directory: CustomerDirectory | None = None,
        rates: ReferenceRates | None = None,
        cases: CaseQueue | None = None,
        lines: CreditLines | None = None,
    ) -> None:
        self.engine, self.clock = engine, clock
        section = settings.payments
        tz = settings.business_timezone
        self.rates = rates or ReferenceRates()
        self.limits = Limits(engine, clock, section, self.rates, tz)
        self.fx = FxDesk(engine, clock, banking, section, self.rates, business_timezone=tz)
        key = derive_key(settings.secret_key.get_secret_value())
        self.merchants = MerchantDesk(engine, clock, banking, section, key)
        self.payments = PaymentDesk(
            engine, clock, banking, section, self.merchants, self.limits,
            directory or NoDirectory(), lines or NoCreditLines(),
        )  # fmt: skip
        self.settlement = SettlementDesk(engine, banking, self.merchants, tz)
        self.statements = StatementDesk(
            clock, banking, bank_bic=section.bank_bic, business_timezone=tz
        )
        screening = ScreeningList.from_csv(section.sanctions_list or DEMO_LIST)
        self.crossborder = CrossBorderDesk(
            engine, clock, banking, screening, bank_bic=section.bank_bic, business_timezone=tz,
            fx=self.fx, cases=cases,
        )  # fmt: skip

    @classmethod
    def build(
        cls,
        engine: Engine,
        clock: Clock,
        settings: Settings,
        *,
        banking: BankingService,
        directory: CustomerDirectory | None = None,
        cases: CaseQueue | None = None,
        lines: CreditLines | None = None,
    ) -> PaymentsService:
        """The platform's payments face (the platform wires banking, identity's directory,
        risk's case queue and lending's credit lines)."""
        return cls(engine, clock, settings, banking=banking, directory=directory, cases=cases,
                   lines=lines)  # fmt: skip

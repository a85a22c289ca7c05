"""Merchants (onboarded by an operator) and their payment codes.

A merchant is a banking customer with a settlement account; the bank takes ``fee_rate`` of each
payment (half-even to the minor unit) into its fee income account. A static code lets the payer
type the amount; a dynamic code fixes amount and currency, expires after ``code_seconds`` and is
paid once.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from sqlalchemy import Engine, select

from finbridge.banking import BankingService
from finbridge.core.clock import Clock
from finbridge.core.errors import (
    BusinessRuleViolation,
    Conflict,
    CurrencyMismatch,
    NotFound,
    ValidationError,
)
from finbridge.core.ids import is_valid_id, new_id
from finbridge.core.money import Money
from finbridge.core.principal import Principal
from finbridge.core.settings import PaymentsSettings
from finbridge.lake import Event, emit
from finbridge.payments import codes
from finbridge.payments._common import (
    PLATFORM,
    WALLET_CURRENCIES,
    aware,
    clean_text,
    is_customer,
    load_row,
    operator_only,
    positive_money,
)
from finbridge.payments.models import CodePreview, Merchant, PaymentCode
from finbridge.payments.tables import CodeRow, MerchantRow
from finbridge.store.engine import unit_of_work

_MCC = re.compile(r"^[0-9]{4}$")
MAX_FEE_RATE = Decimal("0.1")


class MerchantDesk:
    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        banking: BankingService,
        settings: PaymentsSettings,
        code_key: bytes,
    ) -> None:
        self.engine, self.clock, self.banking = engine, clock, banking
        self.settings, self._key = settings, code_key

    # ------------------------------------------------------------------ merchants
    def onboard(
        self,
        actor: Principal,
        *,
        name: str,
        mcc: str,
        settlement_account_id: str,
        fee_rate: Decimal | str,
    ) -> Merchant:
        """Register a merchant on an existing customer's settlement account (operators)."""
        operator_only(actor, "payments:admin")
        name = clean_text(name, "name")
        if not name:
            raise ValidationError("a merchant needs a name", field="name")
        if not isinstance(mcc, str) or not _MCC.match(mcc):
            raise ValidationError("merchant category code is 4 digits (ISO 18245)", field="mcc")
        rate = _fee_rate(fee_rate)
        try:
            account = self.banking.get_account(PLATFORM, settlement_account_id)
        except NotFound:
            raise NotFound(
                f"account {settlement_account_id} not found", field="settlement_account_id"
            ) from None
        if account.customer_id is None or account.status != "open":
            raise ValidationError(
                "settlement needs an open customer account", field="settlement_account_id"
            )
        if account.currency not in WALLET_CURRENCIES:
            raise CurrencyMismatch(
                f"{account.currency} is not a payment currency", field="settlement_account_id"
            )
        row = MerchantRow(
            id=new_id(), name=name, mcc=mcc, customer_id=account.customer_id,
            settlement_account_id=account.id, currency=account.currency, fee_rate=str(rate),
            status="active", created_at=self.clock.now(),
        )  # fmt: skip
        with unit_of_work(self.engine) as s:
            s.add(row)
            emit(
                s,
                Event(
                    "payments.merchant_onboarded", row.created_at,
                    {"merchant_id": row.id, "name": name, "mcc": mcc,
                     "customer_id": row.customer_id, "fee_rate": str(rate)},
                    "payments", subject_id=row.customer_id,
                ),
            )  # fmt: skip
        return _merchant(row)

    def get(self, actor: Principal, merchant_id: str) -> Merchant:
        row = self.row(merchant_id)
        if is_customer(actor):
            if not actor.can_act_for(row.customer_id):
                raise NotFound(f"merchant {merchant_id} not found", field="merchant_id")
        else:
            actor.require_scope("payments:read")
        return _merchant(row)

    def list(self, actor: Principal, *, limit: int = 100) -> list[Merchant]:
        operator_only(actor, "payments:read")
        with unit_of_work(self.engine, write=False) as s:
            rows = s.scalars(select(MerchantRow).order_by(MerchantRow.id.desc()).limit(limit))
            return [_merchant(r) for r in rows]

    def set_status(self, actor: Principal, merchant_id: str, status: str) -> Merchant:
        operator_only(actor, "payments:admin")
        if status not in ("active", "suspended"):
            raise ValidationError("must be one of: active, suspended", field="status")
        with unit_of_work(self.engine) as s:
            row = s.get(MerchantRow, merchant_id) if is_valid_id(merchant_id) else None
            if row is None:
                raise NotFound(f"merchant {merchant_id} not found", field="merchant_id")
            row.status = status
        return _merchant(row)

    def row(self, merchant_id: str) -> MerchantRow:
        return load_row(self.engine, MerchantRow, merchant_id, "merchant", "merchant_id")

    # ------------------------------------------------------------------ codes
    def create_code(
        self,
        actor: Principal,
        merchant_id: str,
        *,
        amount: Money | None = None,
        reference: str = "",
    ) -> PaymentCode:
        """A static code (no amount) or a dynamic one (amount, expiry, paid once)."""
        row = self.row(merchant_id)
        if is_customer(actor):
            if not actor.can_act_for(row.customer_id):
                raise NotFound(f"merchant {merchant_id} not found", field="merchant_id")
        else:
            actor.require_scope("payments:write")
        if row.status != "active":
            raise BusinessRuleViolation(f"merchant {merchant_id} is suspended", field="merchant_id")
        reference = clean_text(reference, "reference", 64)
        now = self.clock.now()
        expires: datetime | None = None
        if amount is not None:
            amount = positive_money(amount)
            if amount.code != row.currency:
                raise CurrencyMismatch(
                    f"merchant settles in {row.currency}, not {amount.code}", field="currency"
                )
            expires = now + timedelta(seconds=self.settings.code_seconds)
        code = CodeRow(
            id=new_id(), merchant_id=row.id, kind="static" if amount is None else "dynamic",
            amount_minor=None if amount is None else amount.minor, currency=row.currency,
            reference=reference, expires_at=expires, payment_id=None, created_at=now,
        )  # fmt: skip
        with unit_of_work(self.engine) as s:
            s.add(code)
        return self._code(code)

    def _code(self, row: CodeRow) -> PaymentCode:
        amount = (
            None if row.amount_minor is None else Money.from_minor(row.amount_minor, row.currency)
        )
        expires = None if row.expires_at is None else aware(row.expires_at)
        body = {
            "c": row.id,
            "m": row.merchant_id,
            "cur": row.currency,
            "a": None if amount is None else str(amount.amount),
            "exp": None if expires is None else int(expires.timestamp()),
        }
        return PaymentCode(
            row.id, row.merchant_id, row.kind, amount, row.currency, row.reference, expires,
            codes.sign(body, self._key), aware(row.created_at),
        )  # fmt: skip

    def resolve(self, payload: str) -> tuple[CodeRow, MerchantRow]:
        """The code and merchant a genuine, unexpired, unused payload names."""
        body = codes.verify(payload, self._key)
        with unit_of_work(self.engine, write=False) as s:
            code = s.get(CodeRow, str(body.get("c")))
            merchant = None if code is None else s.get(MerchantRow, code.merchant_id)
        if code is None or merchant is None or body.get("m") != code.merchant_id:
            raise NotFound("unknown payment code", field="code")
        expected_amount = (
            None if code.amount_minor is None
            else str(Money.from_minor(code.amount_minor, code.currency).amount)
        )  # fmt: skip
        if body.get("a") != expected_amount or body.get("cur") != code.currency:
            raise ValidationError("the payment code does not match its record", field="code")
        if code.expires_at is not None and aware(code.expires_at) <= self.clock.now():
            raise BusinessRuleViolation("the payment code has expired", field="code")
        if code.payment_id is not None:
            raise Conflict("the payment code was already paid", field="code")
        if merchant.status != "active":
            raise BusinessRuleViolation("the merchant is not accepting payments", field="code")
        return code, merchant

    def preview(self, actor: Principal, payload: str) -> CodePreview:
        """What the payer sees after scanning: merchant name, amount, expiry."""
        if is_customer(actor):
            actor.require_scope("transfers:write")
        else:
            actor.require_scope("payments:read")
        code, merchant = self.resolve(payload)
        amount = (
            None
            if code.amount_minor is None
            else Money.from_minor(code.amount_minor, code.currency)
        )
        expires = None if code.expires_at is None else aware(code.expires_at)
        return CodePreview(code.id, merchant.id, merchant.name, amount, code.currency, expires)


def _fee_rate(value: Decimal | str) -> Decimal:
    if isinstance(value, float) or not isinstance(value, (Decimal, str)):
        raise ValidationError('fee rate must be a decimal string such as "0.006"', field="fee_rate")
    try:
        rate = Decimal(value)
    except InvalidOperation:
        raise ValidationError("fee rate must be a decimal", field="fee_rate") from None
    if not rate.is_finite() or not Decimal(0) <= rate <= MAX_FEE_RATE:
        raise ValidationError(f"fee rate must be between 0 and {MAX_FEE_RATE}", field="fee_rate")
    if -int(rate.as_tuple().exponent) > 6:
        raise ValidationError("fee rate has at most 6 decimal places", field="fee_rate")
    return rate


def _merchant(row: MerchantRow) -> Merchant:
    return Merchant(
        row.id, row.name, row.mcc, row.customer_id, row.settlement_account_id, row.currency,
        Decimal(row.fee_rate), row.status, aware(row.created_at),
    )  # fmt: skip

"""Refunds of merchant payments: several, never above the payment, also under racing requests.

Each refund reserves its amount on the payment row under a row lock (``refunded <= amount`` is
also a database CHECK), then posts one entry (merchant's net back, the bank's fee back, the
payer credited), and is undone in one transaction if the posting fails. The fee comes back in
proportion; the refund that completes the payment returns exactly what is left of it.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.exc import IntegrityError

from finbridge.banking import BankingService, InternalAccount, JournalLeg
from finbridge.core.clock import Clock
from finbridge.core.errors import (
    BusinessRuleViolation,
    Conflict,
    CurrencyMismatch,
    IdempotencyConflict,
    NotFound,
    ValidationError,
)
from finbridge.core.ids import new_id
from finbridge.core.money import Money
from finbridge.core.principal import Principal
from finbridge.lake import Event, emit
from finbridge.payments._common import (
    PLATFORM,
    aware,
    is_customer,
    load_row,
    positive_money,
    request_fingerprint,
    scoped_key,
)
from finbridge.payments.lines import CreditLines
from finbridge.payments.merchants import MerchantDesk
from finbridge.payments.models import Payment, Refund
from finbridge.payments.tables import PaymentRow, RefundRow
from finbridge.store.engine import unit_of_work


class RefundCommands:
    """The refund half of :class:`~finbridge.payments.pay.PaymentDesk`."""

    engine: Engine
    clock: Clock
    banking: BankingService
    merchants: MerchantDesk
    lines: CreditLines

    def get(self, actor: Principal, payment_id: str) -> Payment:  # pragma: no cover
        raise NotImplementedError  # PaymentDesk.get: the payment as ``actor`` may see it

    def _payment_row(self, payment_id: str) -> PaymentRow:
        row = load_row(self.engine, PaymentRow, payment_id, "payment", "payment_id")
        if row.status != "completed":  # a payment being made is not there yet
            raise NotFound(f"payment {payment_id} not found", field="payment_id")
        return row

    def refund(
        self,
        actor: Principal,
        payment_id: str,
        *,
        idempotency_key: str,
        amount: Money | None = None,
    ) -> Refund:
        """Give (part of) a merchant payment back; never more than was paid in total."""
        payment = self._payment_row(payment_id)
        if payment.kind != "merchant" or payment.merchant_id is None:
            raise ValidationError("only merchant payments are refunded", field="payment_id")
        merchant = self.merchants.row(payment.merchant_id)
        if is_customer(actor):
            if not actor.can_act_for(merchant.customer_id):
                raise NotFound(f"payment {payment_id} not found", field="payment_id")
            actor.require_scope("transfers:write")
        else:
            actor.require_scope("payments:write")
        scoped = scoped_key(actor, idempotency_key)
        paid = Money.from_minor(payment.amount_minor, payment.currency)
        if amount is None:
            amount = paid - Money.from_minor(payment.refunded_minor, payment.currency)
        amount = positive_money(amount)
        if amount.code != payment.currency:
            raise CurrencyMismatch(f"the payment was in {payment.currency}", field="currency")
        fp = request_fingerprint("refund", payment_id, amount)
        stored = self._stored_refund(scoped, fp)
        if stored is not None:
            return stored
        refund_row = self._reserve_refund(payment.id, scoped, fp, amount)
        fee_back = Money.from_minor(refund_row.fee_minor, payment.currency)
        # Paid from a credit line: the refund goes to card settlement, and lending refunds the
        # purchase from there onto the line (its statement shows it).
        payer = (
            JournalLeg.give(payment.payer_account_id, amount, field="payment_id")
            if payment.purchase_id is None
            else JournalLeg.bank(InternalAccount.CARD_SETTLEMENT, amount, debit=False)
        )
        legs = [
            JournalLeg.take(merchant.settlement_account_id, amount - fee_back, field="payment_id"),
            payer,
        ]
        if fee_back.is_positive():
            legs.append(JournalLeg.bank(InternalAccount.FEE_INCOME, fee_back, debit=True))
        try:
            journal = self.banking.post_journal(
                PLATFORM, legs, idempotency_key=f"refund:{refund_row.id}",
                description=f"refund {merchant.name}", requested_by=actor, channel="refund",
                metadata={"merchant": merchant.id, "payment_id": payment.id},
            )  # fmt: skip
        except BaseException:
            self._undo_refund(refund_row)
            raise
        if payment.purchase_id is not None:
            self._refund_line(payment.purchase_id, refund_row, legs, amount)
        with unit_of_work(self.engine) as s:
            s.execute(
                update(RefundRow).where(RefundRow.id == refund_row.id)
                .values(status="completed", entry_id=journal.entry_id)
            )  # fmt: skip
            emit(s, Event(
                "payments.refunded", self.clock.now(),
                {"refund_id": refund_row.id, "payment_id": payment.id,
                 "entry_id": journal.entry_id, "amount": str(amount.amount),
                 "currency": amount.code, "fee_returned": str(fee_back.amount)},
                "payments", subject_id=payment.payer_customer_id,
            ))  # fmt: skip
        return Refund(refund_row.id, payment.id, amount, fee_back, journal.entry_id,
                      aware(refund_row.created_at))  # fmt: skip

    def _refund_line(
        self, purchase_id: str, row: RefundRow, legs: list[JournalLeg], amount: Money
    ) -> None:
        """Lending's refund of the purchase; if lending refuses it, the entry just posted is
        posted back (each leg inverted), so nothing is left half-done."""
        try:
            self.lines.refund(purchase_id, amount, idempotency_key=f"refund:{row.id}")
        except BaseException:
            back = [
                JournalLeg(x.amount, not x.debit, account_id=x.account_id, internal=x.internal,
                           field=x.field)
                for x in legs
            ]  # fmt: skip
            self.banking.post_journal(
                PLATFORM, back, idempotency_key=f"refund-undo:{row.id}",
                description="refund not taken by lending", channel="refund",
            )  # fmt: skip
            self._undo_refund(row)
            raise

    def _stored_refund(self, scoped: str, fp: str) -> Refund | None:
        with unit_of_work(self.engine, write=False) as s:
            row = s.scalar(select(RefundRow).where(RefundRow.idempotency_key == scoped))
            payment = None if row is None else s.get(PaymentRow, row.payment_id)
        if row is None or payment is None:
            return None
        if row.fingerprint != fp:
            raise IdempotencyConflict(
                "this idempotency key was used for a different request", field="idempotency_key"
            )
        if row.status != "completed":
            raise Conflict(
                "this refund is still being made; retry shortly", field="idempotency_key"
            )
        return Refund(
            row.id, row.payment_id, Money.from_minor(row.amount_minor, payment.currency),
            Money.from_minor(row.fee_minor, payment.currency), row.entry_id,
            aware(row.created_at), replayed=True,
        )  # fmt: skip

    def _reserve_refund(self, payment_id: str, scoped: str, fp: str, amount: Money) -> RefundRow:
        """Count the refund on the payment under a row lock and write it as pending."""
        try:
            with unit_of_work(self.engine) as s:
                p = s.scalar(
                    select(PaymentRow).where(PaymentRow.id == payment_id).with_for_update()
                )
                assert p is not None
                if p.status != "completed":
                    raise Conflict("the payment is not completed", field="payment_id")
                left = p.amount_minor - p.refunded_minor
                if amount.minor > left:
                    raise BusinessRuleViolation(
                        f"refund over the paid amount: {Money.from_minor(left, p.currency)} "
                        "is left to refund", field="amount",
                        refundable=str(Money.from_minor(left, p.currency).amount),
                    )  # fmt: skip
                after = p.refunded_minor + amount.minor
                if after == p.amount_minor:
                    fee_back = p.fee_minor - p.fee_refunded_minor
                else:
                    share = Decimal(p.fee_minor) * amount.minor / p.amount_minor
                    fee_back = min(int(share.to_integral_value(ROUND_HALF_EVEN)),
                                   p.fee_minor - p.fee_refunded_minor)  # fmt: skip
                p.refunded_minor = after
                p.fee_refunded_minor += fee_back
                row = RefundRow(
                    id=new_id(), payment_id=p.id, idempotency_key=scoped, fingerprint=fp,
                    amount_minor=amount.minor, fee_minor=fee_back, status="pending",
                    entry_id=None, created_at=self.clock.now(),
                )  # fmt: skip
                s.add(row)
        except IntegrityError:
            raise Conflict(
                "this refund is being made by another request", field="idempotency_key"
            ) from None
        return row

    def _undo_refund(self, row: RefundRow) -> None:
        with unit_of_work(self.engine) as s:
            s.execute(
                update(PaymentRow).where(PaymentRow.id == row.payment_id).values(
                    refunded_minor=PaymentRow.refunded_minor - row.amount_minor,
                    fee_refunded_minor=PaymentRow.fee_refunded_minor - row.fee_minor,
                )
            )  # fmt: skip
            s.execute(delete(RefundRow).where(RefundRow.id == row.id))

    def refunds(self, actor: Principal, payment_id: str) -> list[Refund]:
        payment = self.get(actor, payment_id)
        with unit_of_work(self.engine, write=False) as s:
            rows = s.scalars(
                select(RefundRow).where(RefundRow.payment_id == payment.id,
                                        RefundRow.status == "completed").order_by(RefundRow.id)
            ).all()  # fmt: skip
        return [
            Refund(r.id, r.payment_id, Money.from_minor(r.amount_minor, payment.amount.code),
                   Money.from_minor(r.fee_minor, payment.amount.code), r.entry_id,
                   aware(r.created_at))
            for r in rows
        ]  # fmt: skip

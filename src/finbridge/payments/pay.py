"""Merchant payments, refunds, P2P transfers and request-money links.

Every payment is: authorise; record it as pending under the client's idempotency key (a racing
duplicate finds the row; a dynamic code is claimed in the same transaction, so it is paid
once); reserve the customer's limit; post one ledger entry through banking (which asks the
risk engine and, for a customer, step-up); then mark it completed with its event. If the
posting fails, the reservation, the pending row and the code claim are undone: nothing is
half-written, and a retry with the same key starts again.

Refunds reserve their amount on the payment row under a row lock (``refunded <= amount`` is
also a database CHECK), so racing refunds can never return more than was paid. The fee comes
back in proportion, and the refund that completes the payment returns exactly what is left of
it, so a full refund in several parts returns the whole fee.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Protocol

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.exc import IntegrityError

from finbridge.banking import Account, BankingService, InternalAccount, JournalLeg
from finbridge.core.clock import Clock
from finbridge.core.errors import (
    BusinessRuleViolation,
    Conflict,
    CurrencyMismatch,
    IdempotencyConflict,
    NotFound,
    PermissionDenied,
    ValidationError,
)
from finbridge.core.ids import new_id, new_secret_id
from finbridge.core.money import Money
from finbridge.core.principal import Principal
from finbridge.core.settings import PaymentsSettings
from finbridge.lake import Event, emit
from finbridge.payments._common import (
    PLATFORM,
    aware,
    clean_text,
    is_customer,
    load_row,
    not_a_credit_line,
    positive_money,
    request_fingerprint,
    scoped_key,
)
from finbridge.payments.limits import Limits, Reservation
from finbridge.payments.lines import CreditLines
from finbridge.payments.merchants import MerchantDesk
from finbridge.payments.models import Channel, MoneyRequest, Payee, Payment
from finbridge.payments.refunds import RefundCommands
from finbridge.payments.tables import (
    CodeRow,
    MoneyRequestRow,
    PaymentRow,
)
from finbridge.store.engine import unit_of_work


class CustomerDirectory(Protocol):
    """Port: finds a customer by mobile number (identity holds phone numbers, not payments)."""

    def customer_by_phone(self, phone: str) -> str | None: ...


class NoDirectory:
    def customer_by_phone(self, phone: str) -> str | None:
        return None


@dataclass(frozen=True, slots=True)
class _Request:
    """A payment about to be made, after every check that needs no write."""

    kind: str
    channel: str
    payer: Account
    payee_account_id: str
    payee_customer_id: str | None
    amount: Money
    fee: Money
    merchant_id: str | None
    code_id: str | None
    description: str
    line_id: str | None = None  # paid from this credit line, through lending


def mask_name(name: str) -> str:
    """A payee's name as a payer may see it: ``**明`` / ``J*** S****``."""
    name = name.strip()
    if not name:
        return "***"
    if "*" in name:
        # Already masked where it was stored (identity registers the ledger's customer under a
        # masked name): masking it again would leave only stars for the payer to check.
        return name
    words = name.split()
    if len(words) == 1 and not name.isascii():
        return "*" * max(len(name) - 1, 1) + name[-1]
    return " ".join(w[0] + "*" * max(len(w) - 1, 2) for w in words)


class PaymentDesk(RefundCommands):
    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        banking: BankingService,
        settings: PaymentsSettings,
        merchants: MerchantDesk,
        limits: Limits,
        directory: CustomerDirectory,
        lines: CreditLines,
    ) -> None:
        self.engine, self.clock, self.banking = engine, clock, banking
        self.settings, self.merchants, self.limits = settings, merchants, limits
        self.directory, self.lines = directory, lines

    # ------------------------------------------------------------------ merchant payments
    def pay(
        self,
        actor: Principal,
        code: str,
        *,
        from_account_id: str,
        idempotency_key: str,
        amount: Money | None = None,
    ) -> Payment:
        """Pay a merchant's code in one call, from a deposit account or a credit line (through
        lending's purchase flow)."""
        scoped = scoped_key(actor, idempotency_key)
        fp = request_fingerprint("merchant", code, from_account_id, amount)
        stored = self._stored(scoped, fp)
        if stored is not None:
            return stored
        code_row, merchant = self.merchants.resolve(code)
        if code_row.amount_minor is not None:
            fixed = Money.from_minor(code_row.amount_minor, code_row.currency)
            if amount is not None and amount != fixed:
                raise ValidationError(f"this code is for {fixed}", field="amount")
            amount = fixed
        if amount is None:
            raise ValidationError("this code needs an amount", field="amount")
        amount = positive_money(amount)
        if amount.code != merchant.currency:
            raise CurrencyMismatch(
                f"{merchant.name} takes {merchant.currency}, not {amount.code}", field="currency"
            )
        payer = self._payer_account(actor, from_account_id, amount.code, line_ok=True)
        line_id = self._line_of(payer)
        fee = Money.rounded(
            amount.amount * Decimal(merchant.fee_rate), amount.code, ROUND_HALF_EVEN
        )
        dynamic = code_row.id if code_row.kind == "dynamic" else None
        # The settlement account is checked by the ledger's rule when the entry posts.
        req = _Request("merchant", Channel.QR.value, payer, merchant.settlement_account_id,
                       merchant.customer_id, amount, fee, merchant.id, dynamic,
                       merchant.name, line_id)  # fmt: skip
        return self._execute(actor, scoped, fp, req)

    def _line_of(self, payer: Account) -> str | None:
        """The credit line ``payer`` is, refused if it is floored below zero but not a line
        lending books (a payment posted on it would escape statements and interest)."""
        if payer.floor.minor >= 0:
            return None
        assert payer.customer_id is not None  # checked by _payer_account
        line_id = self.lines.line_of(payer.customer_id, payer.id)
        if line_id is None:
            not_a_credit_line(payer.floor, "from_account_id")
        return line_id

    def _payer_account(
        self, actor: Principal, account_id: str, code: str, *, line_ok: bool = False
    ) -> Account:
        try:
            account = self.banking.get_account(
                actor if is_customer(actor) else PLATFORM, account_id
            )
        except NotFound:
            raise NotFound(f"account {account_id} not found", field="from_account_id") from None
        if not is_customer(actor):
            actor.require_scope("payments:write")
        if account.customer_id is None:
            raise NotFound(f"account {account_id} not found", field="from_account_id")
        if account.currency != code:
            raise CurrencyMismatch(
                f"account {account_id} holds {account.currency}, not {code}",
                field="from_account_id",
            )
        if not line_ok:
            not_a_credit_line(account.floor, "from_account_id")
        return account

    def _stored(self, scoped: str, fp: str) -> Payment | None:
        with unit_of_work(self.engine, write=False) as s:
            row = s.scalar(select(PaymentRow).where(PaymentRow.idempotency_key == scoped))
        if row is None:
            return None
        if row.fingerprint != fp:
            raise IdempotencyConflict(
                "this idempotency key was used for a different request", field="idempotency_key"
            )
        if row.status != "completed":
            raise Conflict(
                "this payment is still being made; retry shortly", field="idempotency_key"
            )
        return _payment(row, replayed=True)

    def _execute(self, actor: Principal, scoped: str, fp: str, req: _Request) -> Payment:
        now = self.clock.now()
        row = PaymentRow(
            id=new_id(), kind=req.kind, channel=req.channel, idempotency_key=scoped,
            fingerprint=fp, payer_customer_id=req.payer.customer_id,
            payer_account_id=req.payer.id, payee_customer_id=req.payee_customer_id,
            payee_account_id=req.payee_account_id, merchant_id=req.merchant_id, code_id=req.code_id,
            amount_minor=req.amount.minor, currency=req.amount.code, fee_minor=req.fee.minor,
            refunded_minor=0, fee_refunded_minor=0, limit_minor=0, status="pending",
            entry_id=None, description=req.description[:140], created_at=now, purchase_id=None,
        )  # fmt: skip
        raced, reservation = self._begin(row, req)
        if raced is not None:
            return raced
        try:
            entry_id = self._post(actor, row, req)
        except BaseException:
            self._abandon(row, reservation)
            raise
        with unit_of_work(self.engine) as s:
            s.execute(
                update(PaymentRow).where(PaymentRow.id == row.id).values(
                    status="completed", entry_id=entry_id, limit_minor=reservation.cny_minor,
                    purchase_id=row.purchase_id,
                )
            )  # fmt: skip
            emit(s, _completed_event(row, entry_id, now))
        row.status, row.entry_id = "completed", entry_id
        return _payment(row)

    def _begin(self, row: PaymentRow, req: _Request) -> tuple[Payment | None, Reservation]:
        """Write the pending row, claim a dynamic code and reserve the limit, in one
        transaction; a racing duplicate that already completed is returned instead."""
        try:
            with unit_of_work(self.engine) as s:
                s.add(row)
                s.flush()
                if req.code_id is not None:
                    claimed = s.execute(
                        update(CodeRow)
                        .where(CodeRow.id == req.code_id, CodeRow.payment_id.is_(None))
                        .values(payment_id=row.id)
                    ).rowcount  # type: ignore[attr-defined]
                    if claimed != 1:
                        raise Conflict("the payment code was already paid", field="code")
                reservation = self.limits.reserve_in(
                    s, row.payer_customer_id, req.channel, req.amount
                )
        except IntegrityError:
            # A racing duplicate of this request holds the key.
            stored = self._stored(row.idempotency_key, row.fingerprint)
            if stored is None:
                raise Conflict(
                    "this payment is being made by another request", field="idempotency_key"
                ) from None
            return stored, Reservation("", "", "", 0)
        return None, reservation

    def _abandon(self, row: PaymentRow, reservation: Reservation) -> None:
        """Undo a payment whose posting failed: code claim, reservation and row together."""
        with unit_of_work(self.engine) as s:
            s.execute(update(CodeRow).where(CodeRow.payment_id == row.id).values(payment_id=None))
            self.limits.release_in(s, reservation)
            s.execute(
                delete(PaymentRow).where(PaymentRow.id == row.id, PaymentRow.status == "pending")
            )

    def _post(self, actor: Principal, row: PaymentRow, req: _Request) -> str:
        if req.kind == "p2p":
            posted = self.banking.transfer(
                actor if is_customer(actor) else PLATFORM, req.payer.id, req.payee_account_id,
                req.amount,
                idempotency_key=f"p2p:{row.id}", description=req.description,
                channel=req.channel, metadata={"payment_id": row.id},
            )  # fmt: skip
            return posted.entry_id
        if req.line_id is not None:
            return self._post_from_line(actor, row, req, req.line_id)
        net = req.amount - req.fee
        legs = [
            JournalLeg.take(req.payer.id, req.amount, field="from_account_id"),
            JournalLeg.give(req.payee_account_id, net, field="merchant_id"),
        ]
        if req.fee.is_positive():
            legs.append(JournalLeg.bank(InternalAccount.FEE_INCOME, req.fee, debit=False))
        journal = self.banking.post_journal(
            PLATFORM, legs, idempotency_key=f"pay:{row.id}", description=f"pay {req.description}",
            requested_by=actor, channel=req.channel,
            metadata={"merchant": req.merchant_id, "payment_id": row.id},
        )  # fmt: skip
        return journal.entry_id

    def _post_from_line(self, actor: Principal, row: PaymentRow, req: _Request, line: str) -> str:
        """Lending's purchase (the guarded hold, then its capture into card settlement), then
        card settlement on to the merchant net of the fee, posted at the customer's request
        under the hold's own key: the guard decided this payment once, on the hold, and meets
        that decision again here instead of taking a second one (see ``LinePurchase``). If
        that entry fails, the purchase is refunded onto the line whole, so the line carries
        nothing the merchant did not get."""
        bought = self.lines.purchase(
            actor, line, req.amount, merchant=req.description[:120],
            idempotency_key=f"pay:{row.id}",
        )  # fmt: skip
        purchase_id = row.purchase_id = bought.purchase_id
        legs = [
            JournalLeg.bank(InternalAccount.CARD_SETTLEMENT, req.amount, debit=True),
            JournalLeg.give(req.payee_account_id, req.amount - req.fee, field="merchant_id"),
        ]
        if req.fee.is_positive():
            legs.append(JournalLeg.bank(InternalAccount.FEE_INCOME, req.fee, debit=False))
        try:
            journal = self.banking.post_journal(
                PLATFORM, legs, idempotency_key=bought.guard_key,
                description=f"pay {req.description}", requested_by=actor, channel=req.channel,
                metadata={"merchant": req.merchant_id, "payment_id": row.id,
                          "purchase_id": purchase_id},
            )  # fmt: skip
        except BaseException:
            self.lines.refund(purchase_id, req.amount, idempotency_key=f"undo:{row.id}")
            raise
        return journal.entry_id

    # ------------------------------------------------------------------ reads
    def get(self, actor: Principal, payment_id: str) -> Payment:
        row = self._payment_row(payment_id)
        if is_customer(actor):
            owners = {row.payer_customer_id, row.payee_customer_id}
            if actor.customer_id not in owners:
                raise NotFound(f"payment {payment_id} not found", field="payment_id")
        else:
            actor.require_scope("payments:read")
        return _payment(row)

    def search(
        self,
        actor: Principal,
        *,
        customer_id: str | None = None,
        merchant_id: str | None = None,
        kind: str | None = None,
        limit: int = 50,
    ) -> list[Payment]:
        """Completed payments, newest first; customers see only their own."""
        if not 1 <= limit <= 200:
            raise ValidationError("limit must be between 1 and 200", field="limit")
        stmt = select(PaymentRow).where(PaymentRow.status == "completed")
        if is_customer(actor):
            customer_id = actor.customer_id
        else:
            actor.require_scope("payments:read")
        if customer_id:
            stmt = stmt.where(
                (PaymentRow.payer_customer_id == customer_id)
                | (PaymentRow.payee_customer_id == customer_id)
            )
        if merchant_id:
            stmt = stmt.where(PaymentRow.merchant_id == merchant_id)
        if kind:
            stmt = stmt.where(PaymentRow.kind == kind)
        with unit_of_work(self.engine, write=False) as s:
            rows = s.scalars(stmt.order_by(PaymentRow.id.desc()).limit(limit)).all()
        return [_payment(r) for r in rows]

    # ------------------------------------------------------------------ P2P
    def find_payee(
        self,
        actor: Principal,
        *,
        phone: str | None = None,
        account_id: str | None = None,
        currency_code: str = "CNY",
    ) -> Payee:
        """The payee's masked name and account, shown before the payer confirms."""
        if is_customer(actor):
            actor.require_scope("transfers:write")
        else:
            actor.require_scope("payments:write")
        if (phone is None) == (account_id is None):
            raise ValidationError("give a phone number or an account", field="phone")
        if phone is not None:
            customer_id = self.directory.customer_by_phone(phone)
            if customer_id is None:
                raise NotFound("no customer has that phone number", field="phone")
            account = self._account_in(customer_id, currency_code)
        else:
            try:
                account = self.banking.get_account(PLATFORM, str(account_id))
            except NotFound:
                raise NotFound(f"account {account_id} not found", field="to_account_id") from None
            if account.customer_id is None or account.status == "closed":
                raise NotFound(f"account {account_id} not found", field="to_account_id")
        assert account.customer_id is not None
        customer = self.banking.get_customer(PLATFORM, account.customer_id)
        return Payee(customer.id, account.id, mask_name(customer.display_name), account.currency)

    def _account_in(self, customer_id: str, currency_code: str) -> Account:
        page = self.banking.list_accounts(PLATFORM, customer_id=customer_id, limit=50)
        for account in sorted(page.items, key=lambda a: a.created_at):
            if account.currency == currency_code and account.status == "open":
                return account
        raise NotFound(f"the payee has no {currency_code} account", field="currency")

    def send(
        self,
        actor: Principal,
        *,
        from_account_id: str,
        amount: Money,
        idempotency_key: str,
        to_account_id: str | None = None,
        phone: str | None = None,
        note: str = "",
    ) -> Payment:
        """P2P: send ``amount`` to another customer by phone number or account."""
        amount = positive_money(amount)
        note = clean_text(note, "note")
        scoped = scoped_key(actor, idempotency_key)
        fp = request_fingerprint("p2p", from_account_id, to_account_id, phone, amount, note)
        stored = self._stored(scoped, fp)
        if stored is not None:
            return stored
        payee = self.find_payee(actor, phone=phone, account_id=to_account_id,
                                currency_code=amount.code)  # fmt: skip
        payer = self._payer_account(actor, from_account_id, amount.code)
        if payee.account_id == payer.id:
            raise ValidationError("cannot send to the same account", field="to_account_id")
        target = self.banking.get_account(PLATFORM, payee.account_id)
        if target.currency != amount.code:
            raise CurrencyMismatch(
                f"the payee's account holds {target.currency}, not {amount.code}", field="currency"
            )
        req = _Request("p2p", Channel.P2P.value, payer, target.id, target.customer_id, amount,
                       Money.zero(amount.code), None, None, note or "P2P")  # fmt: skip
        return self._execute(actor, scoped, fp, req)

    # ------------------------------------------------------------------ request-money links
    def request_money(
        self, actor: Principal, *, to_account_id: str, amount: Money, note: str = ""
    ) -> MoneyRequest:
        """A link another customer can pay once before it expires."""
        amount = positive_money(amount)
        note = clean_text(note, "note")
        try:
            account = self.banking.get_account(actor if is_customer(actor) else PLATFORM,
                                               to_account_id)  # fmt: skip
        except NotFound:
            raise NotFound(f"account {to_account_id} not found", field="to_account_id") from None
        if not is_customer(actor):
            actor.require_scope("payments:write")
        if account.customer_id is None:
            raise NotFound(f"account {to_account_id} not found", field="to_account_id")
        if account.currency != amount.code:
            raise CurrencyMismatch(f"account holds {account.currency}", field="currency")
        now = self.clock.now()
        row = MoneyRequestRow(
            # The id is the link's capability: random through and through, not a UUIDv7.
            id=new_secret_id(), requester_customer_id=account.customer_id,
            to_account_id=account.id,
            amount_minor=amount.minor, currency=amount.code, note=note, status="open",
            payment_id=None, created_at=now,
            expires_at=now + timedelta(seconds=self.settings.request_seconds),
        )  # fmt: skip
        with unit_of_work(self.engine) as s:
            s.add(row)
        return _request(row)

    def get_request(self, actor: Principal, request_id: str) -> MoneyRequest:
        """Anyone signed in who has the link may see it (the amount and the masked payee)."""
        if is_customer(actor):
            actor.require_scope("transfers:write")
        else:
            actor.require_scope("payments:read")
        return _request(self._request_row(request_id), self.clock.now())

    def requests_of(self, actor: Principal, *, limit: int = 20) -> list[MoneyRequest]:
        """A customer's own request links, newest first (an open link past its expiry reads
        as ``expired``)."""
        if not is_customer(actor):
            raise PermissionDenied("a customer's own request links")
        if not 1 <= limit <= 100:
            raise ValidationError("limit must be between 1 and 100", field="limit")
        with unit_of_work(self.engine, write=False) as s:
            rows = s.scalars(
                select(MoneyRequestRow)
                .where(MoneyRequestRow.requester_customer_id == actor.customer_id)
                .order_by(MoneyRequestRow.created_at.desc(), MoneyRequestRow.id.desc())
                .limit(limit)
            ).all()
        now = self.clock.now()
        return [_request(r, now) for r in rows]

    def _request_row(self, request_id: str) -> MoneyRequestRow:
        return load_row(self.engine, MoneyRequestRow, request_id, "request", "request_id")

    def pay_request(
        self, actor: Principal, request_id: str, *, from_account_id: str, idempotency_key: str
    ) -> Payment:
        row = self._request_row(request_id)
        amount = Money.from_minor(row.amount_minor, row.currency)
        scoped = scoped_key(actor, idempotency_key)
        fp = request_fingerprint("p2p", from_account_id, row.to_account_id, None, amount, row.note)
        stored = self._stored(scoped, fp)
        if stored is not None:
            return stored
        now = self.clock.now()
        with unit_of_work(self.engine) as s:
            claimed = s.execute(
                update(MoneyRequestRow)
                .where(MoneyRequestRow.id == row.id, MoneyRequestRow.status == "open",
                       MoneyRequestRow.expires_at > now)
                .values(status="paid")
            ).rowcount  # type: ignore[attr-defined]  # fmt: skip
        if claimed != 1:
            if row.status == "paid" or self._request_row(request_id).status == "paid":
                raise Conflict("this request was already paid", field="request_id")
            raise BusinessRuleViolation("this request has expired", field="request_id")
        try:
            payment = self.send(
                actor, from_account_id=from_account_id, amount=amount,
                idempotency_key=idempotency_key, to_account_id=row.to_account_id, note=row.note,
            )  # fmt: skip
        except BaseException:
            with unit_of_work(self.engine) as s:
                s.execute(update(MoneyRequestRow).where(MoneyRequestRow.id == row.id)
                          .values(status="open"))  # fmt: skip
            raise
        with unit_of_work(self.engine) as s:
            s.execute(update(MoneyRequestRow).where(MoneyRequestRow.id == row.id)
                      .values(payment_id=payment.id))  # fmt: skip
        return payment


def _payment(row: PaymentRow, *, replayed: bool = False) -> Payment:
    cur = row.currency
    return Payment(
        row.id, row.kind, row.channel, row.payer_customer_id, row.payer_account_id,
        row.payee_account_id, row.merchant_id, Money.from_minor(row.amount_minor, cur),
        Money.from_minor(row.fee_minor, cur), Money.from_minor(row.refunded_minor, cur),
        row.status, row.entry_id, row.description, aware(row.created_at), replayed,
        row.purchase_id,
    )  # fmt: skip


def _request(row: MoneyRequestRow, now: datetime | None = None) -> MoneyRequest:
    expires_at = aware(row.expires_at)
    # Expiry is applied on read: the row stays "open" and the claim refuses it by time.
    status = "expired" if row.status == "open" and now and expires_at <= now else row.status
    return MoneyRequest(
        row.id, row.requester_customer_id, row.to_account_id,
        Money.from_minor(row.amount_minor, row.currency), row.note, status,
        expires_at, row.payment_id, aware(row.created_at),
    )  # fmt: skip


def _completed_event(row: PaymentRow, entry_id: str, now: datetime) -> Event:
    return Event(
        "payments.payment_completed",
        now,
        {
            "payment_id": row.id, "entry_id": entry_id, "kind": row.kind, "channel": row.channel,
            "payer_customer_id": row.payer_customer_id,
            "payee_customer_id": row.payee_customer_id, "merchant_id": row.merchant_id,
            "amount": str(Money.from_minor(row.amount_minor, row.currency).amount),
            "currency": row.currency,
            "fee": str(Money.from_minor(row.fee_minor, row.currency).amount),
        },
        "payments",
        subject_id=row.payer_customer_id,
    )  # fmt: skip

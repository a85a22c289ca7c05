"""The third-party APIs behind a verified :class:`Grant`: accounts, balances, transactions
(within the consent's accounts, permissions and date range only) and domestic payments under a
payment consent. Data is read, and money moved, through banking's face with a third-party
principal acting for the consenting customer, so banking's own ownership checks apply too."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError

from finbridge.banking import Account, Balance, BankingService, HistoryItem
from finbridge.core.clock import Clock
from finbridge.core.errors import FinbridgeError, IdempotencyConflict, NotFound, ValidationError
from finbridge.core.ids import new_id
from finbridge.core.money import Money
from finbridge.core.principal import Principal, PrincipalKind
from finbridge.lake import Event, emit
from finbridge.openbanking.audit import AuditTrail
from finbridge.openbanking.consents import (
    CROSS_BORDER,
    SINGLE_PAYMENTS,
    ConsentKind,
    ConsentStatus,
    aware,
)
from finbridge.openbanking.errors import OAuthError, insufficient_scope
from finbridge.openbanking.ports import CrossBorderPort
from finbridge.openbanking.sandbox import SandboxBank, is_sandbox_id
from finbridge.openbanking.server import AuthorizationServer, Grant
from finbridge.openbanking.tables import ConsentRow, PaymentRow
from finbridge.openbanking.webhooks import enqueue
from finbridge.store.engine import unit_of_work

_PAGE = 200
_MAX_SCAN = 5000


@dataclass(frozen=True, slots=True)
class Payment:
    id: str
    consent_id: str
    debtor_account_id: str
    creditor_account_id: str
    amount: Money
    status: str  # pending | completed | submitted (cross-border, on its way) | rejected
    reason: str | None
    entry_id: str | None
    created_at: datetime
    replayed: bool = False
    transfer_id: str | None = None  # cross-border: payments' transfer
    # Cross-border, read live from payments: screening | ready | sent | settled | rejected |
    # returned (the payment itself stays ``submitted``: payments owns what follows).
    transfer_status: str | None = None

    @classmethod
    def of(cls, row: PaymentRow, *, replayed: bool = False) -> Payment:
        return cls(
            row.id,
            row.consent_id,
            row.debtor_account_id,
            row.creditor_account_id,
            Money.from_minor(row.amount_minor, row.currency),
            row.status,
            row.reason,
            row.entry_id,
            aware(row.created_at),
            replayed,
            row.transfer_id,
        )


def app_principal(grant: Grant) -> Principal:
    """The app acting for the consenting customer: banking's customer rules apply to it."""
    return Principal(
        PrincipalKind.THIRD_PARTY,
        grant.client_id,
        frozenset({"accounts:read", "transfers:write"}),
        customer_id=grant.customer_id,
        display=f"app {grant.client_id[:8]}",
    )


class ResourceService:
    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        banking: BankingService,
        server: AuthorizationServer,
        audit: AuditTrail,
        *,
        cross_border: CrossBorderPort | None = None,
        sandbox: SandboxBank | None = None,
    ) -> None:
        self._engine = engine
        self._sandbox = sandbox or SandboxBank(engine, clock)
        self._cross_border = cross_border
        self._clock = clock
        self._banking = banking
        self._server = server
        self._audit = audit

    # -- account information -------------------------------------------------------------------
    def accounts(self, grant: Grant) -> list[Account]:
        self._require(grant, "accounts")
        if grant.sandbox:  # synthetic data only: the sandbox never calls banking
            return [self._sandbox.account(grant.developer, a) for a in grant.consent.account_ids]
        actor = app_principal(grant)
        return [self._banking.get_account(actor, a) for a in grant.consent.account_ids]

    def balance(self, grant: Grant, account_id: str) -> Balance:
        self._require(grant, "balances", account_id)
        if grant.sandbox:
            return self._sandbox.balance(grant.developer, account_id)
        return self._banking.balance(app_principal(grant), account_id)

    def transactions(
        self,
        grant: Grant,
        account_id: str,
        *,
        from_time: datetime | None = None,
        to_time: datetime | None = None,
        limit: int = 100,
    ) -> list[HistoryItem]:
        """Postings in ``[from_time, to_time)``, newest first; the window must lie inside the
        consent's transaction range (a wider query is refused, never silently cut)."""
        self._require(grant, "transactions", account_id)
        consent = grant.consent
        assert consent.from_date is not None and consent.to_date is not None
        start = from_time or consent.from_date
        end = to_time or min(consent.to_date, self._clock.now())
        if start < consent.from_date or end > consent.to_date:
            self._refused(grant, "transactions", "outside the consented date range")
            raise OAuthError(
                "invalid_request",
                f"the consent covers transactions from {consent.from_date.date()} "
                f"to {consent.to_date.date()} only",
                field="from_booking_date" if start < consent.from_date else "to_booking_date",
            )
        if end <= start:
            raise OAuthError(
                "invalid_request",
                "to_booking_date is not after from_booking_date",
                field="to_booking_date",
            )
        limit = max(1, min(limit, _PAGE))
        if grant.sandbox:
            return self._sandbox.history(grant.developer, account_id, start, end, limit)
        found: list[HistoryItem] = []
        for item in self._history(grant, account_id):
            if item.created_at < start:
                break  # newest first: everything further is older still
            if item.created_at < end:
                found.append(item)
                if len(found) >= limit:
                    break
        return found

    def _history(self, grant: Grant, account_id: str) -> Iterator[HistoryItem]:
        actor = app_principal(grant)
        cursor: str | None = None
        for _ in range(_MAX_SCAN // _PAGE):
            page = self._banking.history(actor, account_id, limit=_PAGE, cursor=cursor)
            yield from page.items
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    # -- payments --------------------------------------------------------------------------------
    def initiate_payment(
        self,
        grant: Grant,
        *,
        idempotency_key: str,
        amount: Money,
        creditor_account_id: str,
        debtor_account_id: str | None = None,
        description: str = "",
    ) -> Payment:
        """A domestic transfer under the consent, exactly once per (app, key).

        The consent's limits are checked and the payment recorded as ``pending`` in one
        transaction holding the consent's row, so racing payments cannot pass a mandate's total
        together; the money then moves through banking's guarded posting path.
        """
        consent = grant.consent
        if consent.kind is ConsentKind.ACCOUNT_ACCESS:
            self._refused(grant, "payment", "account-access consent")
            raise insufficient_scope("this consent does not allow payments")
        if not idempotency_key or len(idempotency_key) > 200 or not idempotency_key.isprintable():
            raise ValidationError(
                "Idempotency-Key: 1 to 200 printable characters", field="Idempotency-Key"
            )
        if amount.minor <= 0:
            raise OAuthError("invalid_request", "the amount must be positive", field="amount")
        debtor = debtor_account_id or consent.account_ids[0]
        fingerprint = hashlib.sha256(
            f"{debtor}|{creditor_account_id}|{amount.minor}|{amount.code}|{description}".encode()
        ).hexdigest()
        stored = self._stored(grant.client_id, idempotency_key, fingerprint)
        if stored is not None:
            return stored
        if consent.status is not ConsentStatus.AUTHORISED:
            self._refused(grant, "payment", f"consent {consent.status.value}")
            raise insufficient_scope(f"the consent is {consent.status.value}: no further payments")
        self._check_payment(grant, debtor, creditor_account_id, amount)
        row = PaymentRow(
            id=new_id(),
            client_id=grant.client_id,
            consent_id=consent.id,
            idempotency_key=idempotency_key,
            fingerprint=fingerprint,
            debtor_account_id=debtor,
            creditor_account_id=creditor_account_id,
            amount_minor=amount.minor,
            currency=amount.code,
            status="pending",
            entry_id=None,
            reason=None,
            created_at=self._clock.now(),
        )
        try:
            with unit_of_work(self._engine) as session:
                session.get(ConsentRow, consent.id, with_for_update=True)
                if consent.max_total is not None:
                    used = session.scalar(
                        select(func.coalesce(func.sum(PaymentRow.amount_minor), 0)).where(
                            PaymentRow.consent_id == consent.id, PaymentRow.status != "rejected"
                        )
                    )
                    if int(used or 0) + amount.minor > consent.max_total.minor:
                        row = None  # type: ignore[assignment]
                    else:
                        session.add(row)
                elif self._count_payments(session, consent.id) > 0:
                    row = None  # type: ignore[assignment]
                else:
                    session.add(row)
        except IntegrityError:
            # A racing retry of the same key inserted first: answer with its result.
            again = self._stored(grant.client_id, idempotency_key, fingerprint)
            if again is None:
                raise
            return again
        if row is None:
            self._refused(grant, "payment", "over the mandate's total or already paid")
            raise insufficient_scope("the payment exceeds what the consent allows")
        return self._execute(grant, row, description)

    def _execute(self, grant: Grant, row: PaymentRow, description: str) -> Payment:
        amount = Money.from_minor(row.amount_minor, row.currency)
        if grant.sandbox:
            return self._pay_in_sandbox(grant, row, amount, description)
        if grant.consent.kind in CROSS_BORDER:
            return self._send_abroad(grant, row, amount, description)
        try:
            posted = self._banking.transfer(
                app_principal(grant),
                row.debtor_account_id,
                row.creditor_account_id,
                amount,
                idempotency_key=f"ob:{row.id}",
                description=description or "open banking payment",
                channel="open_banking",
                metadata={"client_id": grant.client_id, "consent_id": row.consent_id},
            )
        except FinbridgeError as exc:
            self._finish(row, "rejected", None, f"{exc.code}: {exc.detail}")
            raise
        self._finish(row, "completed", posted.entry_id, None)
        return self._done(grant, row, amount)

    def _pay_in_sandbox(
        self, grant: Grant, row: PaymentRow, amount: Money, description: str
    ) -> Payment:
        """Between synthetic accounts of the app's developer's sandbox only
        (``SandboxBank.transfer``): the consent, mandate and idempotency checks above are the
        real ones, the money never is."""
        try:
            entry = self._sandbox.transfer(
                grant.developer, row.debtor_account_id, row.creditor_account_id, amount,
                reference=row.id, description=description,
            )  # fmt: skip
        except FinbridgeError as exc:
            self._finish(row, "rejected", None, f"{exc.code}: {exc.detail}", sandbox=True)
            raise
        self._finish(row, "completed", entry, None, sandbox=True)
        return self._done(grant, row, amount)

    def _send_abroad(
        self, grant: Grant, row: PaymentRow, amount: Money, description: str
    ) -> Payment:
        """Through payments' cross-border desk (a port): the money is held at once and leaves
        with the next pacs.008; the payment stays ``submitted`` until payments settles it."""
        if self._cross_border is None or grant.consent.beneficiary is None:
            self._finish(row, "rejected", None, "cross-border payments are not available")
            raise OAuthError(
                "invalid_request", "cross-border payments are not available", field="consent"
            )
        try:
            sent = self._cross_border.send(
                app_principal(grant),
                from_account_id=row.debtor_account_id,
                amount=amount,
                beneficiary=grant.consent.beneficiary,
                idempotency_key=f"ob:{row.id}",
                remittance=description,
            )
        except FinbridgeError as exc:
            self._finish(row, "rejected", None, f"{exc.code}: {exc.detail}")
            raise
        row.transfer_id = sent.transfer_id
        self._finish(row, "submitted", None, sent.reason)
        return self._done(grant, row, amount)

    def _done(self, grant: Grant, row: PaymentRow, amount: Money) -> Payment:
        if grant.consent.kind in SINGLE_PAYMENTS:
            self._server.mark_consumed(row.consent_id)
        self._audit.record(
            "payment",
            "ok",
            f"{amount.amount} {amount.code}",
            client_id=grant.client_id,
            customer_id=grant.customer_id,
            consent_id=row.consent_id,
        )
        return Payment.of(row)

    def _finish(
        self,
        row: PaymentRow,
        status: str,
        entry_id: str | None,
        reason: str | None,
        *,
        sandbox: bool = False,
    ) -> None:
        """The payment's outcome, its webhook, and (real payments only: the lake and the
        engines reading it must never see synthetic money) its event."""
        row.status, row.entry_id, row.reason = status, entry_id, reason
        with unit_of_work(self._engine) as session:
            stored = session.get(PaymentRow, row.id)
            assert stored is not None
            stored.status, stored.entry_id, stored.reason = status, entry_id, reason
            stored.transfer_id = row.transfer_id
            enqueue(
                session,
                row.client_id,
                "payment.status_changed",
                {"payment_id": row.id, "consent_id": row.consent_id, "status": status},
                self._clock.now(),
            )
            if sandbox:
                return
            emit(
                session,
                Event(
                    event_type="openbanking.payment_initiated",
                    occurred_at=self._clock.now(),
                    source="openbanking",
                    subject_id=row.id,
                    payload={
                        "payment_id": row.id,
                        "consent_id": row.consent_id,
                        "client_id": row.client_id,
                        "currency": row.currency,
                        "status": status,
                        "amount": str(Money.from_minor(row.amount_minor, row.currency).amount),
                    },
                ).validated(),
            )

    def payment(self, grant: Grant, payment_id: str) -> Payment:
        """A payment's status; another app's payment is unknown to this one."""
        with unit_of_work(self._engine, write=False) as session:
            row = session.get(PaymentRow, payment_id)
        if row is None or row.client_id != grant.client_id:
            self._refused(grant, "payment.read", "another app's or unknown payment")
            raise NotFound("no such payment", field="payment_id")
        found = Payment.of(row)
        if row.transfer_id is not None and self._cross_border is not None:
            live = self._cross_border.status(app_principal(grant), row.transfer_id)
            found = replace(found, transfer_status=live.status, reason=live.reason or found.reason)
        return found

    def payments_for(self, consent_id: str) -> list[Payment]:
        with unit_of_work(self._engine, write=False) as session:
            rows = session.scalars(
                select(PaymentRow)
                .where(PaymentRow.consent_id == consent_id)
                .order_by(PaymentRow.created_at)
            ).all()
        return [Payment.of(r) for r in rows]

    # -- checks ----------------------------------------------------------------------------------
    def _check_payment(self, grant: Grant, debtor: str, creditor: str, amount: Money) -> None:
        consent = grant.consent
        if is_sandbox_id(debtor) is not grant.sandbox or is_sandbox_id(creditor) is not (
            grant.sandbox
        ):  # each world pays only inside itself (approve and approve_sandbox hold it too)
            self._refused(grant, "payment", "an account outside this grant's world")
            raise insufficient_scope("the account is not in the consent")
        if debtor not in consent.account_ids:
            self._refused(grant, "payment", f"debtor {debtor} not in the consent")
            raise insufficient_scope("the debtor account is not in the consent")
        if creditor != consent.creditor_account_id:
            self._refused(grant, "payment", "creditor differs from the consent")
            raise insufficient_scope("the creditor account is not the consented one")
        if consent.amount is not None and amount != consent.amount:
            self._refused(grant, "payment", "amount differs from the consent")
            raise insufficient_scope("the amount is not the consented one")
        if consent.max_per_payment is not None:
            if amount.code != consent.max_per_payment.code:
                raise OAuthError(
                    "invalid_request", "the currency is not the mandate's", field="currency"
                )
            if amount.minor > consent.max_per_payment.minor:
                self._refused(grant, "payment", "over the mandate's per-payment limit")
                raise insufficient_scope("the amount exceeds the mandate's per-payment limit")

    def _require(self, grant: Grant, permission: str, account_id: str | None = None) -> None:
        # Belt and braces: a consent's accounts are all real or all synthetic (approve and
        # approve_sandbox), and each kind of grant reads only its own kind of account.
        if account_id is not None and is_sandbox_id(account_id) is not grant.sandbox:
            self._refused(grant, permission, f"account {account_id} is not in this grant's world")
            raise insufficient_scope("the account is not in the consent")
        if permission not in grant.consent.permissions:
            self._refused(grant, permission, "permission not granted")
            raise insufficient_scope(f"the consent does not grant {permission}")
        if account_id is not None and account_id not in grant.consent.account_ids:
            self._refused(grant, permission, f"account {account_id} not in the consent")
            raise insufficient_scope("the account is not in the consent")

    def _refused(self, grant: Grant, action: str, detail: str) -> None:
        self._audit.record(
            action,
            "refused",
            detail,
            client_id=grant.client_id,
            customer_id=grant.customer_id,
            consent_id=grant.consent.id,
        )

    def _stored(self, client_id: str, key: str, fingerprint: str) -> Payment | None:
        with unit_of_work(self._engine, write=False) as session:
            row = session.scalars(
                select(PaymentRow).where(
                    PaymentRow.client_id == client_id, PaymentRow.idempotency_key == key
                )
            ).first()
        if row is None:
            return None
        if row.fingerprint != fingerprint:
            raise IdempotencyConflict(
                "Idempotency-Key reused with a different payment", field="Idempotency-Key"
            )
        return Payment.of(row, replayed=True)

    @staticmethod
    def _count_payments(session: object, consent_id: str) -> int:
        from sqlalchemy.orm import Session

        assert isinstance(session, Session)
        return int(
            session.scalar(
                select(func.count())
                .select_from(PaymentRow)
                .where(PaymentRow.consent_id == consent_id, PaymentRow.status != "rejected")
            )
            or 0
        )

"""Multi-leg journal entries: one balanced entry across several accounts and currencies.

An FX conversion is one entry in two currencies through the bank's FX position accounts
(customer CNY -> FX position CNY, FX position USD -> customer USD); a merchant payment with a
fee is one entry of three legs. Each leg goes through the same posting rule, the same posting
path and the same ``transaction.posted`` builder as a transfer (:meth:`ServiceCore._post`);
the order is the transfer's: idempotency first (a stored result or a stored refusal), then
the guard, then the posting, then the guard is told how it ended.

Who may post what: legs on customers' accounts are named by id and never reach one of the
bank's own accounts that way; the bank's own accounts are named by code
(:meth:`JournalLeg.bank`) and only the platform itself (a system principal) may post to them,
because such an entry sets a price (a rate, a fee) that only an engine may decide. An engine
posting for a customer passes that customer as ``requested_by``: their debit legs must be on
their own accounts, the key is scoped to them, and the guard (risk and step-up) sees them as the
actor.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from finbridge.banking.guard import GuardDecision, PostingIntent
from finbridge.banking.ledger import EntrySpec, Leg, Replay, fingerprint
from finbridge.banking.models import (
    EntryKind,
    JournalLeg,
    JournalResult,
    PostedLeg,
    PostingResult,
)
from finbridge.banking.service._checks import (
    owner_of,
    positive,
    scoped,
    text,
    valid_account_id,
    valid_key,
)
from finbridge.banking.service._movements import MovementCommands, _reason
from finbridge.core.errors import (
    Conflict,
    FinbridgeError,
    NotFound,
    PermissionDenied,
    ValidationError,
)
from finbridge.core.ids import new_id
from finbridge.core.money import Money
from finbridge.core.principal import Principal, PrincipalKind

MAX_LEGS = 16


class JournalCommands(MovementCommands):
    def post_journal(
        self,
        actor: Principal,
        legs: Sequence[JournalLeg],
        *,
        idempotency_key: str,
        description: str = "",
        requested_by: Principal | None = None,
        channel: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> JournalResult:
        """Post ``legs`` as one journal entry, exactly once per key.

        The legs must balance in each currency and name each account once. Raises the rule's
        precise error for the first refused leg (``InsufficientFunds``, ``AccountNotActive``...)
        and posts nothing then.
        """
        actor.require_scope("transfers:write")
        key = valid_key(idempotency_key)
        description = text(description, "description")
        payer = self._payer(actor, requested_by)
        ledger_legs = self._ledger_legs(actor, payer, legs)
        scoped_key = scoped(payer, key)
        fp = fingerprint(
            EntryKind.JOURNAL.value,
            [(x.account_id, x.currency, x.amount_minor) for x in ledger_legs],
            description,
        )
        src, dst = _primary(ledger_legs)
        amount = Money.from_minor(-src.amount_minor, src.currency)
        now = self.clock.now()
        intent: PostingIntent | None = None
        decision: GuardDecision | None = None
        with self._read() as conn:
            # Idempotency first: a retry gets the first answer (a result or a definitive
            # refusal, issue 11's rule) and no guard runs again.
            stored = self._stored(conn, scoped_key, fp, JournalResult)
            if stored is not None:
                return stored
            self._refused(conn, scoped_key, fp)
            owners = self._owners(conn, src.account_id, dst.account_id) if self._guarded else {}
        if self._guarded:
            if src.account_id not in owners or (src.owner and owners[src.account_id] != src.owner):
                raise NotFound(f"account {src.account_id} not found", field=src.field)
            intent = PostingIntent(
                actor=payer,
                kind=EntryKind.JOURNAL.value,
                from_account_id=src.account_id,
                to_account_id=dst.account_id,
                from_customer_id=owners.get(src.account_id),
                to_customer_id=owners.get(dst.account_id),
                amount=amount,
                occurred_at=now,
                idempotency_key=key,
                channel=channel,
                metadata=dict(metadata or {}),
            )
            try:
                decision = self._decide(intent)
            except FinbridgeError as exc:
                self._remember_refusal(scoped_key, fp, exc)  # a decline, never a step-up
                raise
        entry_id = new_id()
        result = JournalResult(
            entry_id,
            tuple(
                PostedLeg(x.account_id, _signed(j)) for x, j in zip(ledger_legs, legs, strict=True)
            ),
            now,
            description,
        )
        # The event names the primary pair (the first debit and the first credit in its
        # currency), built by the one transaction.posted builder every posting path uses.
        summary = PostingResult(
            entry_id, EntryKind.JOURNAL, amount, src.account_id, dst.account_id, now, description
        )
        spec = EntrySpec(
            entry_id, EntryKind.JOURNAL.value, scoped_key, fp, result.to_json(), description,
            metadata, actor.id, now,
        )  # fmt: skip
        try:
            self._post(spec, summary, list(ledger_legs), channel, metadata)
        except (Replay, FinbridgeError) as exc:
            replay = self._replay(scoped_key, fp, JournalResult)
            if intent is not None and decision is not None:
                reason = "replayed" if replay is not None else _reason(exc)
                self._settle(intent, decision, posted=False, reason=reason)
            if replay is not None:
                return replay
            if isinstance(exc, Replay):  # pragma: no cover - the key exists by construction
                raise Conflict("idempotency key vanished", field="idempotency_key") from None
            self._remember_refusal(scoped_key, fp, exc)
            raise
        if intent is not None and decision is not None:
            self._settle(intent, decision, posted=True)
        return result

    # ------------------------------------------------------------------ checks
    @staticmethod
    def _payer(actor: Principal, requested_by: Principal | None) -> Principal:
        if requested_by is None:
            return actor
        if actor.kind is not PrincipalKind.SYSTEM:
            raise PermissionDenied("only the platform posts on behalf of another principal")
        return requested_by

    def _ledger_legs(
        self, actor: Principal, payer: Principal, legs: Sequence[JournalLeg]
    ) -> list[Leg]:
        if not isinstance(legs, Sequence) or not 2 <= len(legs) <= MAX_LEGS:
            raise ValidationError(f"a journal entry has 2 to {MAX_LEGS} legs", field="legs")
        owner = owner_of(payer)
        out: list[Leg] = []
        for leg in legs:
            if not isinstance(leg, JournalLeg):
                raise ValidationError("each leg must be a JournalLeg", field="legs")
            amount = positive(leg.amount, leg.field)
            if (leg.account_id is None) == (leg.internal is None):
                raise ValidationError("a leg names an account or a bank account", field=leg.field)
            if leg.internal is not None:
                if actor.kind is not PrincipalKind.SYSTEM:
                    raise PermissionDenied("only the platform posts to the bank's own accounts")
                account = self.internal_account_id(leg.internal, amount.code)
                out.append(Leg(account, amount.code, leg.signed_minor, field=leg.field))
                continue
            account = valid_account_id(leg.account_id, leg.field)  # type: ignore[arg-type]
            out.append(
                Leg(account, amount.code, leg.signed_minor, owner=owner if leg.debit else None,
                    customers_only=True, field=leg.field)
            )  # fmt: skip
        if len({x.account_id for x in out}) != len(out):
            raise ValidationError("each account appears once in a journal entry", field="legs")
        totals: dict[str, int] = {}
        for x in out:
            totals[x.currency] = totals.get(x.currency, 0) + x.amount_minor
        unbalanced = sorted(code for code, total in totals.items() if total)
        if unbalanced:
            raise ValidationError(
                f"debits and credits differ in {', '.join(unbalanced)}", field="legs"
            )
        return out


def _signed(leg: JournalLeg) -> Money:
    return -leg.amount if leg.debit else leg.amount


def _primary(legs: Sequence[Leg]) -> tuple[Leg, Leg]:
    """The entry's main pair: the first debit of a customer's account (else the first debit)
    and the first credit in the same currency (one exists: the legs balance)."""
    debits = [x for x in legs if x.amount_minor < 0]
    src = next((x for x in debits if x.customers_only), debits[0])
    dst = next(x for x in legs if x.amount_minor > 0 and x.currency == src.currency)
    return src, dst

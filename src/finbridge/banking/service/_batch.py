"""Bank batches: card replay and the bank's charges (guarded in batches), savings interest."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Connection, select

from finbridge.banking import events, interest
from finbridge.banking.guard import GuardDecision, PostingIntent, Verdict, check_many
from finbridge.banking.ledger import EntrySpec, Leg
from finbridge.banking.ledger._batch import BatchItem, post_batch
from finbridge.banking.models import (
    BankCharge,
    CardBatchResult,
    CardTransaction,
    ChargeBatchResult,
    EntryKind,
    InterestRun,
    InternalAccount,
    PostingResult,
)
from finbridge.banking.service._checks import (
    in_chunks,
    positive,
    result_fingerprint,
    scoped,
    text,
    valid_key,
)
from finbridge.banking.service._core import ServiceCore, accounts
from finbridge.banking.service._policy import operator_policy
from finbridge.banking.tables import (
    LEDGER_CURRENCIES,
    customers_table,
    entries_table,
    postings_table,
)
from finbridge.core.clock import business_date
from finbridge.core.errors import PermissionDenied, ValidationError
from finbridge.core.ids import new_id
from finbridge.core.money import Money
from finbridge.core.principal import Principal, PrincipalKind
from finbridge.lake import Event

customers = customers_table
entries = entries_table
postings = postings_table


class BatchCommands(ServiceCore):
    # ------------------------------------------------------------------ interest
    def accrue_interest(self, actor: Principal, business_day: date | None = None) -> InterestRun:
        """Accrue one day (ACT/365) on every interest-bearing savings account; idempotent.

        ``business_day`` defaults to today in the business time zone.
        """
        self._require_batch(actor)
        day = business_day or business_date(self.clock.now(), self.business_timezone)
        with self._write() as conn:
            return interest.accrue(conn, day)

    def capitalise_interest(self, actor: Principal, year: int, month: int) -> int:
        """Post a month's accrued interest to each savings account; returns entries posted."""
        self._require_batch(actor)
        if not 1 <= month <= 12:
            raise ValidationError("month must be 1..12", field="month")
        posted = 0
        for cur in LEDGER_CURRENCIES:
            with self._read() as conn:
                if not interest.has_pending(conn, year, month, cur):
                    continue
            expense = self.internal_account_id(InternalAccount.INTEREST_EXPENSE, cur)
            with self._write() as conn:
                results = interest.capitalise(
                    conn, year, month, cur, expense, self.clock.now(), actor
                )
                posted += len(results)
                self._emit(
                    conn,
                    *(
                        events.transaction_posted(
                            r, from_customer_id=None, to_customer_id=owner, channel="batch"
                        )
                        for r, owner in results
                    ),
                )
        return posted

    # ------------------------------------------------------------------ card replay
    def post_card_transactions(
        self,
        actor: Principal,
        items: Sequence[CardTransaction],
        *,
        batch_size: int = 5000,
        emit_events: bool = True,
    ) -> CardBatchResult:
        """Post card payments: debit each customer account, credit card settlement.

        Already-posted keys are skipped first (no second decision); the guard then decides the
        rest in batches; a payment it refuses, or the account cannot cover (or on a frozen or
        closed account), is declined and posts nothing. Each payment is its own entry.
        """
        self._require_batch(actor)
        actor.require_scope("transfers:write")
        for i, item in enumerate(items):
            if not isinstance(item.amount, Money) or not item.amount.is_positive():
                raise ValidationError("amount must be positive Money", field=f"items[{i}].amount")
            if not item.idempotency_key or len(item.idempotency_key) > 200:
                raise ValidationError(
                    "idempotency key required", field=f"items[{i}].idempotency_key"
                )
        total = CardBatchResult(0, 0, 0, [])
        for start in range(0, len(items), batch_size):
            res = self._card_chunk(actor, items[start : start + batch_size], emit_events)
            total = CardBatchResult(
                total.posted + res.posted,
                total.declined + res.declined,
                total.duplicates + res.duplicates,
                total.declined_keys + res.declined_keys,
            )
        return total

    def _card_chunk(
        self, actor: Principal, items: Sequence[CardTransaction], emit_events: bool
    ) -> CardBatchResult:
        settlement = {
            cur: self.internal_account_id(InternalAccount.CARD_SETTLEMENT, cur)
            for cur in {i.amount.code for i in items}
        }
        keys = [scoped(actor, i.idempotency_key) for i in items]
        with self._read() as conn:
            done = set(_known_entries(conn, keys))
            owners = _owners(conn, sorted({i.account_id for i in items}))
        fresh: list[tuple[CardTransaction, str]] = []
        duplicates = 0
        for item, key in zip(items, keys, strict=True):
            if key in done:
                duplicates += 1
                continue
            done.add(key)  # a key twice in one batch posts once
            fresh.append((item, key))
        # An unknown account or one of the bank's own is declined without asking anyone.
        declined = [i.idempotency_key for i, _ in fresh if owners.get(i.account_id) is None]
        planned = []
        for item, key in fresh:
            if owners.get(item.account_id) is not None:
                batch_item, result = _card_item(actor, item, key, settlement)
                intent = _card_intent(actor, item, settlement, owners) if self._guarded else None
                planned.append(_Planned(item.idempotency_key, batch_item, result, intent, "card"))
        out = self._post_planned(planned, owners, emit_events)
        declined += [p.key for p, _ in out.declined]
        return CardBatchResult(
            len(out.posted), len(declined), duplicates + len(out.raced), declined
        )

    # ------------------------------------------------------------------ the bank's charges
    def post_charges(
        self,
        actor: Principal,
        charges: Sequence[BankCharge],
        *,
        batch_size: int = 5000,
        emit_events: bool = True,
    ) -> ChargeBatchResult:
        """Post many charges of the bank (interest, fees), each its own two-leg entry.

        An entry is what :meth:`transfer` by the same actor with the same key would post (same
        kind, fingerprint and result), so the two paths answer for each other's keys. A key
        already on the ledger posts nothing and reports its entry; a charge the guard or the
        ledger's rule refuses (floor, frozen or closed account) is declined with the reason and
        does not stop the others. Only the platform charges (a system principal).
        """
        self._require_batch(actor)
        actor.require_scope("transfers:write")
        if actor.kind is not PrincipalKind.SYSTEM:
            raise PermissionDenied("only the platform posts to the bank's own accounts")
        for i, charge in enumerate(charges):
            positive(charge.amount, f"charges[{i}].amount")
            valid_key(charge.idempotency_key)
            text(charge.description, f"charges[{i}].description")
        total = ChargeBatchResult()
        for start in range(0, len(charges), batch_size):
            res = self._charge_chunk(actor, charges[start : start + batch_size], emit_events)
            total.entries.update(res.entries)
            total.declined.update(res.declined)
        return total

    def _charge_chunk(
        self, actor: Principal, charges: Sequence[BankCharge], emit_events: bool
    ) -> ChargeBatchResult:
        keys = [scoped(actor, c.idempotency_key) for c in charges]
        with self._read() as conn:
            known = _known_entries(conn, keys)
            owners = _owners(conn, sorted({c.account_id for c in charges}))
        result = ChargeBatchResult()
        planned: list[_Planned] = []
        now = self.clock.now()
        for charge, key in zip(charges, keys, strict=True):
            raw = charge.idempotency_key
            income = self.internal_account_id(charge.income, charge.amount.code)
            posting = PostingResult(new_id(), EntryKind.TRANSFER, charge.amount,
                                    charge.account_id, income, now, charge.description)  # fmt: skip
            fp = result_fingerprint(posting)
            if key in known:
                entry_id, stored_fp = known[key]
                if stored_fp == fp:
                    result.entries[raw] = entry_id
                else:
                    result.declined[raw] = "conflict: key used for another request"
                continue
            if raw in result.entries:  # a key twice in one batch posts once
                continue
            if owners.get(charge.account_id) is None:  # unknown, or one of the bank's own
                result.declined[raw] = f"not_found: account {charge.account_id} not found"
                continue
            spec = EntrySpec(
                posting.entry_id, EntryKind.TRANSFER.value, key, fp, posting.to_json(),
                charge.description, None, actor.id, now,
            )  # fmt: skip
            debit = Leg(charge.account_id, charge.amount.code, -charge.amount.minor,
                        customers_only=True, field=f"charges[{len(planned)}]")  # fmt: skip
            intent = _charge_intent(actor, posting, owners, raw) if self._guarded else None
            planned.append(_Planned(raw, BatchItem(debit, income, spec), posting, intent, "batch"))
            result.entries[raw] = posting.entry_id  # taken back below if not posted
        out = self._post_planned(planned, owners, emit_events, explain_refusals=True)
        for p, reason in out.declined:
            del result.entries[p.key]
            result.declined[p.key] = reason
        for p in out.raced:
            result.entries[p.key] = out.raced_entries[p.item.spec.scoped_key]
        return result

    # ------------------------------------------------------------------ shared by both
    def _post_planned(
        self,
        planned: Sequence[_Planned],
        owners: dict[str, str | None],
        emit_events: bool,
        *,
        explain_refusals: bool = False,
    ) -> _Outcome:
        """Ask the guard about ``planned`` in one call, post what it approves through the
        ledger's batch path in one transaction (with the ``transaction.posted`` events), and
        tell the guard how each approved entry ended."""
        declined: list[tuple[_Planned, str]] = []
        decisions: dict[str, tuple[PostingIntent, GuardDecision]] = {}
        todo = list(planned)
        asked = [p for p in todo if p.intent is not None]
        if self._guarded and asked:
            intents = [p.intent for p in asked if p.intent is not None]
            todo = [p for p in todo if p.intent is None]
            answers = check_many(self.guard, intents)
            for p, intent, answer in zip(asked, intents, answers, strict=True):
                decision = operator_policy(intent, answer, self.dual_control)
                if decision.verdict is Verdict.APPROVE:
                    todo.append(p)
                    decisions[p.item.spec.scoped_key] = (p.intent, decision)  # type: ignore[assignment]
                else:
                    declined.append((p, "declined: " + "; ".join(decision.reasons)))
        by_key = {p.item.spec.scoped_key: p for p in todo}
        raced: dict[str, str] = {}
        try:
            with self._write() as conn:
                # Re-read inside the transaction: a racing batch may have posted some keys.
                raced = {k: e for k, (e, _) in _known_entries(conn, list(by_key)).items()}
                batch = [p.item for p in todo if p.item.spec.scoped_key not in raced]
                posted, refused = post_batch(
                    conn, batch, explain_refusals=explain_refusals or bool(decisions)
                )
                if emit_events and posted:
                    self._emit(
                        conn,
                        *(
                            events.transaction_posted(
                                by_key[x.item.spec.scoped_key].result,
                                from_customer_id=owners.get(x.item.debit.account_id),
                                to_customer_id=None,
                                channel=by_key[x.item.spec.scoped_key].channel,
                                metadata=x.item.spec.metadata,
                            )
                            for x in posted
                        ),
                    )
        except Exception as exc:
            for intent, decision in decisions.values():
                self._settle(intent, decision, posted=False, reason=f"batch failed: {exc}")
            raise
        for key in raced.keys() & decisions.keys():
            self._settle(*decisions[key], posted=False, reason="replayed")
        for x in posted:
            if x.item.spec.scoped_key in decisions:
                self._settle(*decisions[x.item.spec.scoped_key], posted=True)
        for r in refused:
            if r.item.spec.scoped_key in decisions:
                self._settle(*decisions[r.item.spec.scoped_key], posted=False, reason=r.reason)
        declined += [(by_key[r.item.spec.scoped_key], r.reason) for r in refused]
        return _Outcome(
            [by_key[x.item.spec.scoped_key] for x in posted],
            declined,
            [by_key[k] for k in raced],
            raced,
        )


@dataclass(frozen=True, slots=True)
class _Planned:
    """One two-leg entry ready for the ledger's batch path: the caller's key, the ledger
    item, the result it stores, and what the guard decides on (None without a guard)."""

    key: str
    item: BatchItem
    result: PostingResult
    intent: PostingIntent | None
    channel: str


@dataclass(frozen=True, slots=True)
class _Outcome:
    posted: list[_Planned]
    declined: list[tuple[_Planned, str]]  # by the guard or the ledger's rule, with the reason
    raced: list[_Planned]  # posted meanwhile by a racing batch under the same key
    raced_entries: dict[str, str]  # scoped key -> its entry id


def _known_entries(conn: Connection, keys: Sequence[str]) -> dict[str, tuple[str, str]]:
    """The entries already posted under ``keys``: scoped key -> (entry id, fingerprint)."""
    done: dict[str, tuple[str, str]] = {}
    for part in in_chunks(keys):
        rows = conn.execute(
            select(entries.c.idempotency_key, entries.c.id, entries.c.request_fingerprint).where(
                entries.c.idempotency_key.in_(part)
            )
        )
        done.update({r[0]: (r[1], r[2]) for r in rows})
    return done


def _owners(conn: Connection, ids: Sequence[str]) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for part in in_chunks(ids):
        rows = conn.execute(
            select(accounts.c.id, accounts.c.customer_id).where(accounts.c.id.in_(part))
        )
        out.update({r.id: r.customer_id for r in rows})
    return out


def _charge_intent(
    actor: Principal, posting: PostingResult, owners: dict[str, str | None], key: str
) -> PostingIntent:
    return PostingIntent(
        actor=actor,
        kind=posting.kind.value,
        from_account_id=posting.from_account_id,
        to_account_id=posting.to_account_id,
        from_customer_id=owners.get(posting.from_account_id),
        to_customer_id=None,
        amount=posting.amount,
        occurred_at=posting.created_at,
        idempotency_key=key,
        channel="batch",
        metadata={},
    )


def _card_metadata(item: CardTransaction) -> dict[str, Any]:
    return {"merchant": item.merchant, **dict(item.metadata)}


def _card_intent(
    actor: Principal,
    item: CardTransaction,
    settlement: dict[str, str],
    owners: dict[str, str | None],
) -> PostingIntent:
    return PostingIntent(
        actor=actor,
        kind=EntryKind.CARD_PAYMENT.value,
        from_account_id=item.account_id,
        to_account_id=settlement[item.amount.code],
        from_customer_id=owners.get(item.account_id),
        to_customer_id=None,
        amount=item.amount,
        occurred_at=item.occurred_at,
        idempotency_key=item.idempotency_key,
        channel="card",
        metadata=_card_metadata(item),
    )


def _card_result(item: CardTransaction, entry_id: str, settlement: str) -> PostingResult:
    description = f"card payment {item.merchant}".strip()
    return PostingResult(
        entry_id,
        EntryKind.CARD_PAYMENT,
        item.amount,
        item.account_id,
        settlement,
        item.occurred_at,
        description,
    )


def _card_item(
    actor: Principal, item: CardTransaction, key: str, settlement: dict[str, str]
) -> tuple[BatchItem, PostingResult]:
    cur = item.amount.code
    result = _card_result(item, new_id(), settlement[cur])
    spec = EntrySpec(
        entry_id=result.entry_id,
        kind=EntryKind.CARD_PAYMENT.value,
        scoped_key=key,
        request_fingerprint=result_fingerprint(result),
        result=result.to_json(),
        description=result.description,
        metadata=_card_metadata(item),
        actor_id=actor.id,
        created_at=result.created_at,
    )
    # customers_only: card payments never debit the bank's own accounts.
    debit = Leg(item.account_id, cur, -item.amount.minor, customers_only=True)
    return BatchItem(debit, settlement[cur], spec), result


def _card_event(item: BatchItem, result: PostingResult, owners: dict[str, str | None]) -> Event:
    return events.transaction_posted(
        result,
        from_customer_id=owners.get(item.debit.account_id),
        to_customer_id=None,
        channel="card",
        metadata=item.spec.metadata,
    )

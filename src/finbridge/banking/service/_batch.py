"""Bank batches: bulk onboarding, card replay (guarded in batches) and savings interest."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import Connection, select

from finbridge.banking import events, interest
from finbridge.banking.guard import GuardDecision, PostingIntent, Verdict, check_many
from finbridge.banking.ledger import EntrySpec, Leg
from finbridge.banking.ledger._batch import BatchItem, post_batch
from finbridge.banking.models import (
    CardBatchResult,
    CardTransaction,
    EntryKind,
    InterestRun,
    InternalAccount,
    PostingResult,
)
from finbridge.banking.service._checks import in_chunks, result_fingerprint, scoped
from finbridge.banking.service._core import ServiceCore, accounts
from finbridge.banking.tables import (
    LEDGER_CURRENCIES,
    customers_table,
    entries_table,
    postings_table,
)
from finbridge.core.clock import business_date
from finbridge.core.errors import ValidationError
from finbridge.core.ids import new_id
from finbridge.core.money import Money
from finbridge.core.principal import Principal
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
            done = _known_keys(conn, keys)
            owners = _owners(conn, sorted({i.account_id for i in items}))
        fresh: list[tuple[CardTransaction, str]] = []
        duplicates = 0
        for item, key in zip(items, keys, strict=True):
            if key in done:
                duplicates += 1
                continue
            done.add(key)  # a key twice in one batch posts once
            fresh.append((item, key))
        declined: list[str] = []
        # An unknown account or one of the bank's own is declined without asking anyone.
        known = [(i, k) for i, k in fresh if owners.get(i.account_id) is not None]
        declined += [i.idempotency_key for i, _ in fresh if owners.get(i.account_id) is None]
        decisions: dict[str, tuple[PostingIntent, GuardDecision]] = {}
        if self._guarded and known:
            intents = [_card_intent(actor, i, settlement, owners) for i, _ in known]
            approved = []
            for (item, key), intent, decision in zip(
                known, intents, check_many(self.guard, intents), strict=True
            ):
                if decision.verdict is Verdict.APPROVE:
                    approved.append((item, key))
                    decisions[key] = (intent, decision)
                else:
                    declined.append(item.idempotency_key)
            known = approved
        built = [_card_item(actor, item, key, settlement) for item, key in known]
        batch = [b for b, _ in built]
        results = {b.spec.scoped_key: r for b, r in built}
        raw_key = {key: item.idempotency_key for item, key in known}
        try:
            with self._write() as conn:
                # Re-read inside the transaction: a racing batch may have posted some keys.
                raced = _known_keys(conn, [b.spec.scoped_key for b in batch])
                todo = [b for b in batch if b.spec.scoped_key not in raced]
                posted, refused = post_batch(conn, todo, explain_refusals=bool(decisions))
                if emit_events and posted:
                    self._emit(
                        conn,
                        *(_card_event(p.item, results[p.item.spec.scoped_key], owners)
                          for p in posted),
                    )  # fmt: skip
        except Exception as exc:
            for intent, decision in decisions.values():
                self._settle(intent, decision, posted=False, reason=f"batch failed: {exc}")
            raise
        for b in batch:
            if b.spec.scoped_key in raced and b.spec.scoped_key in decisions:
                self._settle(*decisions[b.spec.scoped_key], posted=False, reason="replayed")
        for p in posted:
            if p.item.spec.scoped_key in decisions:
                self._settle(*decisions[p.item.spec.scoped_key], posted=True)
        for r in refused:
            if r.item.spec.scoped_key in decisions:
                self._settle(*decisions[r.item.spec.scoped_key], posted=False, reason=r.reason)
        declined += [raw_key[r.item.spec.scoped_key] for r in refused]
        return CardBatchResult(len(posted), len(declined), duplicates + len(raced), declined)


def _known_keys(conn: Connection, keys: Sequence[str]) -> set[str]:
    done: set[str] = set()
    for part in in_chunks(keys):
        done.update(
            conn.execute(
                select(entries.c.idempotency_key).where(entries.c.idempotency_key.in_(part))
            ).scalars()
        )
    return done


def _owners(conn: Connection, ids: Sequence[str]) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for part in in_chunks(ids):
        rows = conn.execute(
            select(accounts.c.id, accounts.c.customer_id).where(accounts.c.id.in_(part))
        )
        out.update({r.id: r.customer_id for r in rows})
    return out


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

"""Bank batches: bulk onboarding, card replay (guarded in batches) and savings interest."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, select

from finbridge.banking import events, interest
from finbridge.banking.guard import GuardDecision, PostingIntent, Verdict, check_many
from finbridge.banking.ledger import EntrySpec, Leg, apply_legs, fingerprint
from finbridge.banking.ledger._batch import BatchItem, post_batch
from finbridge.banking.models import (
    AccountKind,
    CardBatchResult,
    CardTransaction,
    EntryKind,
    InterestRun,
    InternalAccount,
    NewCustomerSpec,
    OpenedCustomer,
    PostingResult,
)
from finbridge.banking.service._checks import is_customer, scoped
from finbridge.banking.service._core import ServiceCore, accounts
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
from finbridge.core.principal import Principal
from finbridge.lake import Event

customers = customers_table
entries = entries_table
postings = postings_table
_IN_CHUNK = 500  # bound parameters per IN (...) list, well inside every backend's limit


class BatchCommands(ServiceCore):
    def _require_batch(self, actor: Principal) -> None:
        actor.require_scope("accounts:write")
        if is_customer(actor):
            raise PermissionDenied("interest runs are bank batch jobs")

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

    # ------------------------------------------------------------------ onboarding
    def open_customers_bulk(
        self,
        actor: Principal,
        specs: Sequence[NewCustomerSpec],
        *,
        batch_size: int = 5000,
        emit_events: bool = True,
    ) -> list[OpenedCustomer]:
        """Open many customers with accounts and opening balances, few transactions.

        Each opening balance is one balanced entry from the bank's funding account (money the
        bank puts in: not a guarded movement). Customers whose ``external_ref`` already exists
        are skipped (their ids are returned), so a rerun of a seeding job adds nothing twice.
        """
        self._require_batch(actor)
        actor.require_scope("customers:write")
        out: list[OpenedCustomer] = []
        for start in range(0, len(specs), batch_size):
            chunk = specs[start : start + batch_size]
            funding = {
                cur: self.internal_account_id(InternalAccount.FUNDING, cur)
                for cur in {a.opening_balance.code for s in chunk for a in s.accounts}
            }
            with self._write() as conn:
                opened, evs = _open_customers(
                    conn, chunk, funding, self.clock.now(), actor, emit_events
                )
                if evs:
                    self._emit(conn, *evs)
            out.extend(opened)
        return out

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


def _chunks(values: Sequence[Any], size: int = _IN_CHUNK) -> list[Sequence[Any]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


def _known_keys(conn: Connection, keys: Sequence[str]) -> set[str]:
    done: set[str] = set()
    for part in _chunks(keys):
        done.update(
            conn.execute(
                select(entries.c.idempotency_key).where(entries.c.idempotency_key.in_(part))
            ).scalars()
        )
    return done


def _owners(conn: Connection, ids: Sequence[str]) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for part in _chunks(ids):
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
        request_fingerprint=_fingerprint(result),
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


def _fingerprint(result: PostingResult) -> str:
    return fingerprint(
        result.kind.value,
        result.from_account_id,
        result.to_account_id,
        result.amount.minor,
        result.amount.code,
        result.description,
    )


def _open_customers(
    conn: Connection,
    specs: Sequence[NewCustomerSpec],
    funding: dict[str, str],
    now: datetime,
    actor: Principal,
    emit_events: bool,
) -> tuple[list[OpenedCustomer], list[Event]]:
    refs = [s.external_ref for s in specs if s.external_ref]
    existing: dict[str, str] = {}
    for part in _chunks(refs):
        rows = conn.execute(
            select(customers.c.external_ref, customers.c.id).where(
                customers.c.external_ref.in_(part)
            )
        )
        existing.update({r.external_ref: r.id for r in rows})
    existing_accounts: dict[str, list[str]] = {}
    for part in _chunks(list(existing.values())):
        rows = conn.execute(
            select(accounts.c.customer_id, accounts.c.id)
            .where(accounts.c.customer_id.in_(part))
            .order_by(accounts.c.id)
        )
        for r in rows:
            existing_accounts.setdefault(r.customer_id, []).append(r.id)

    customer_rows: list[dict[str, Any]] = []
    account_rows: list[dict[str, Any]] = []
    openings: list[tuple[str, str, Money]] = []  # customer, account, amount
    opened: list[OpenedCustomer] = []
    evs: list[Event] = []
    seen: set[str] = set()

    def event(event_type: str, subject: str, **payload: Any) -> None:
        if emit_events:
            evs.append(Event(event_type, now, payload, events.SOURCE, subject_id=subject))

    for i, spec in enumerate(specs):
        ref = spec.external_ref
        if ref is not None and ref in existing:
            cid = existing[ref]
            opened.append(OpenedCustomer(cid, tuple(existing_accounts.get(cid, [])), ref))
            continue
        if ref is not None and ref in seen:
            raise ValidationError(f"external_ref {ref!r} appears twice", field=f"specs[{i}]")
        if ref is not None:
            seen.add(ref)
        if not spec.display_name.strip() or len(spec.display_name) > 200:
            raise ValidationError("display name required (<= 200)", field=f"specs[{i}]")
        cid = new_id()
        customer_rows.append(
            {
                "id": cid,
                "kind": spec.kind.value,
                "display_name": spec.display_name.strip(),
                "status": "active",
                "external_ref": ref,
                "created_at": now,
            }
        )
        event("customer.created", cid, customer_id=cid, kind=spec.kind.value, status="active")
        ids = []
        for acc in spec.accounts:
            money = acc.opening_balance
            if money.code not in LEDGER_CURRENCIES or money.is_negative():
                raise ValidationError(
                    "opening balance must be a non-negative ledger amount", field=f"specs[{i}]"
                )
            if acc.kind is AccountKind.INTERNAL:
                raise ValidationError("cannot open internal accounts", field=f"specs[{i}]")
            if acc.interest_rate is not None and acc.kind is not AccountKind.SAVINGS:
                raise ValidationError("only savings earn interest", field=f"specs[{i}]")
            aid = new_id()
            ids.append(aid)
            # A brand-new open account: the credit of its opening balance is admitted by the
            # rule by construction, so it is written with the row.
            account_rows.append(
                {
                    "id": aid,
                    "customer_id": cid,
                    "kind": acc.kind.value,
                    "internal_code": None,
                    "currency": money.code,
                    "status": "open",
                    "balance_minor": money.minor,
                    "held_minor": 0,
                    "floor_minor": 0,
                    "allow_negative": False,
                    "interest_rate": None if acc.interest_rate is None else str(acc.interest_rate),
                    "created_at": now,
                }
            )
            event(
                "account.opened",
                cid,
                account_id=aid,
                customer_id=cid,
                kind=acc.kind.value,
                currency=money.code,
            )
            if money.is_positive():
                openings.append((cid, aid, money))
        opened.append(OpenedCustomer(cid, tuple(ids), ref))

    if customer_rows:
        conn.execute(customers.insert(), customer_rows)
    if account_rows:
        conn.execute(accounts.insert(), account_rows)

    totals: dict[str, int] = {}
    for _, _, money in openings:
        totals[money.code] = totals.get(money.code, 0) + money.minor
    # The bank's side moves once per currency, through the rule.
    moved = apply_legs(conn, [Leg(funding[c], c, -t) for c, t in sorted(totals.items())])
    before = zip(sorted(totals), moved, strict=True)
    running = {funding[c]: a.balance_after + totals[c] for c, a in before}
    posting_rows: list[dict[str, Any]] = []
    entry_rows: list[dict[str, Any]] = []
    for cid, aid, money in openings:
        entry_id = new_id()
        source = funding[money.code]
        running[source] -= money.minor
        posting_rows.append(
            {
                "entry_id": entry_id,
                "account_id": source,
                "currency": money.code,
                "amount_minor": -money.minor,
                "balance_after_minor": running[source],
            }
        )
        posting_rows.append(
            {
                "entry_id": entry_id,
                "account_id": aid,
                "currency": money.code,
                "amount_minor": money.minor,
                "balance_after_minor": money.minor,
            }
        )
        result = PostingResult(
            entry_id, EntryKind.OPENING_BALANCE, money, source, aid, now, "opening balance"
        )
        entry = EntrySpec(
            entry_id=entry_id,
            kind=EntryKind.OPENING_BALANCE.value,
            scoped_key=scoped(actor, f"opening:{aid}"),
            request_fingerprint=_fingerprint(result),
            result=result.to_json(),
            description=result.description,
            metadata=None,
            actor_id=actor.id,
            created_at=now,
        )
        entry_rows.append(entry.row())
        if emit_events:
            evs.append(
                events.transaction_posted(
                    result, from_customer_id=None, to_customer_id=cid, channel="batch"
                )
            )
    # Postings first, then the entries that seal them (the SQLite balance trigger needs both).
    if posting_rows:
        conn.execute(postings.insert(), posting_rows)
        conn.execute(entries.insert(), entry_rows)
    return opened, evs

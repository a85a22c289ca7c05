"""Bulk paths for seeding and replay: executemany in one transaction per batch.

They keep every ledger invariant of the single-command path (balanced entries checked by the
database, postings with running balances, idempotency keys, events) but compute balances in
Python over rows locked for the batch, instead of one guarded UPDATE per movement.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from finbridge.banking.events import SOURCE
from finbridge.banking.ledger import accounts, entries, fingerprint, postings
from finbridge.banking.models import (
    AccountKind,
    CardBatchResult,
    CardTransaction,
    EntryKind,
    NewCustomerSpec,
    OpenedCustomer,
    PostingResult,
)
from finbridge.banking.tables import LEDGER_CURRENCIES, customers_table
from finbridge.core.errors import ValidationError
from finbridge.core.ids import new_id
from finbridge.core.money import Money
from finbridge.core.principal import Principal
from finbridge.lake import Event

customers_t = customers_table
_IN_CHUNK = 500  # bound parameters per IN (...) list, well inside every backend's limit

_SET_BALANCE = (
    update(accounts)
    .where(accounts.c.id == bindparam("b_id"))
    .values(balance_minor=bindparam("b_bal"))
)


def _chunks(values: Sequence[Any], size: int = _IN_CHUNK) -> list[Sequence[Any]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


def _scoped(actor: Principal, key: str) -> str:
    return f"{actor.kind.value}:{actor.id}:{key}"


def _move_internal(conn: Connection, account_id: str, delta: int) -> int:
    """Apply ``delta`` to an internal account once per batch; returns its balance *before*."""
    after = conn.execute(
        update(accounts)
        .where(accounts.c.id == account_id)
        .values(balance_minor=accounts.c.balance_minor + delta)
        .returning(accounts.c.balance_minor)
    ).scalar_one()
    return int(after) - delta


def _event(event_type: str, at: datetime, subject: str | None, **payload: Any) -> Event:
    return Event(event_type, at, payload, SOURCE, subject_id=subject)


def _entry_row(
    entry_id: str,
    kind: EntryKind,
    scoped_key: str,
    result: PostingResult,
    actor: Principal,
    metadata: dict[str, Any] | None,
) -> dict[str, Any]:
    return {
        "id": entry_id,
        "kind": kind.value,
        "idempotency_key": scoped_key,
        "request_fingerprint": fingerprint(
            kind.value,
            result.from_account_id,
            result.to_account_id,
            result.amount.minor,
            result.amount.code,
            result.description,
        ),
        "result": result.to_json(),
        "description": result.description,
        "metadata": metadata,
        "actor_id": actor.id,
        "created_at": result.created_at,
    }


def _posted(result: PostingResult, from_c: str | None, to_c: str | None, **extra: Any) -> Event:
    return _event(
        "transaction.posted",
        result.created_at,
        from_c or to_c,
        entry_id=result.entry_id,
        kind=result.kind.value,
        amount=str(result.amount.amount),
        currency=result.amount.code,
        from_account_id=result.from_account_id,
        to_account_id=result.to_account_id,
        from_customer_id=from_c,
        to_customer_id=to_c,
        description=result.description,
        **extra,
    )


def open_customers(
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
            select(customers_t.c.external_ref, customers_t.c.id).where(
                customers_t.c.external_ref.in_(part)
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
    events: list[Event] = []
    seen: set[str] = set()
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
        if emit_events:
            events.append(
                _event(
                    "customer.created",
                    now,
                    cid,
                    customer_id=cid,
                    kind=spec.kind.value,
                    status="active",
                )
            )
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
            if emit_events:
                events.append(
                    _event(
                        "account.opened",
                        now,
                        cid,
                        account_id=aid,
                        customer_id=cid,
                        kind=acc.kind.value,
                        currency=money.code,
                    )
                )
            if money.is_positive():
                openings.append((cid, aid, money))
        opened.append(OpenedCustomer(cid, tuple(ids), ref))

    if customer_rows:
        conn.execute(customers_t.insert(), customer_rows)
    if account_rows:
        conn.execute(accounts.insert(), account_rows)

    totals: dict[str, int] = {}
    for _, _, money in openings:
        totals[money.code] = totals.get(money.code, 0) + money.minor
    running = {cur: _move_internal(conn, funding[cur], -total) for cur, total in totals.items()}
    posting_rows: list[dict[str, Any]] = []
    entry_rows: list[dict[str, Any]] = []
    for cid, aid, money in openings:
        entry_id = new_id()
        running[money.code] -= money.minor
        posting_rows.append(
            {
                "entry_id": entry_id,
                "account_id": funding[money.code],
                "currency": money.code,
                "amount_minor": -money.minor,
                "balance_after_minor": running[money.code],
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
            entry_id,
            EntryKind.OPENING_BALANCE,
            money,
            funding[money.code],
            aid,
            now,
            "opening balance",
        )
        entry_rows.append(
            _entry_row(
                entry_id,
                EntryKind.OPENING_BALANCE,
                _scoped(actor, f"opening:{aid}"),
                result,
                actor,
                None,
            )
        )
        if emit_events:
            events.append(_posted(result, None, cid, channel="batch"))
    # Postings first, then the entries that seal them (the SQLite balance trigger needs both).
    if posting_rows:
        conn.execute(postings.insert(), posting_rows)
        conn.execute(entries.insert(), entry_rows)
    return opened, events


def post_card_transactions(
    conn: Connection,
    items: Sequence[CardTransaction],
    settlement: dict[str, str],
    actor: Principal,
    now: datetime,
    emit_events: bool,
) -> tuple[CardBatchResult, list[Event]]:
    for i, item in enumerate(items):
        if not isinstance(item.amount, Money) or not item.amount.is_positive():
            raise ValidationError("amount must be positive Money", field=f"items[{i}].amount")
        if not item.idempotency_key or len(item.idempotency_key) > 200:
            raise ValidationError("idempotency key required", field=f"items[{i}].idempotency_key")
    scoped = [_scoped(actor, item.idempotency_key) for item in items]
    done: set[str] = set()
    for part in _chunks(scoped):
        done.update(
            conn.execute(
                select(entries.c.idempotency_key).where(entries.c.idempotency_key.in_(part))
            ).scalars()
        )
    state: dict[str, dict[str, Any]] = {}
    ids = sorted({item.account_id for item in items})
    for part in _chunks(ids):
        stmt = (
            select(
                accounts.c.id,
                accounts.c.customer_id,
                accounts.c.currency,
                accounts.c.status,
                accounts.c.balance_minor,
                accounts.c.held_minor,
                accounts.c.floor_minor,
                accounts.c.kind,
            )
            .where(accounts.c.id.in_(part))
            .order_by(accounts.c.id)
        )
        if conn.dialect.name == "postgresql":
            stmt = stmt.with_for_update()  # in id order, like the single-command path
        for r in conn.execute(stmt):
            state[r.id] = dict(r._mapping)

    posted: list[tuple[CardTransaction, str, int, str]] = []  # item, entry, balance, key
    declined: list[str] = []
    duplicates = 0
    touched: set[str] = set()
    for item, key in zip(items, scoped, strict=True):
        if key in done:
            duplicates += 1
            continue
        acc = state.get(item.account_id)
        minor = item.amount.minor
        if (
            acc is None
            or acc["kind"] == "internal"
            or acc["currency"] != item.amount.code
            or acc["status"] != "open"
            or acc["balance_minor"] - acc["held_minor"] - minor < acc["floor_minor"]
        ):
            declined.append(item.idempotency_key)
            continue
        acc["balance_minor"] -= minor
        touched.add(item.account_id)
        done.add(key)
        posted.append((item, new_id(), acc["balance_minor"], key))

    if touched:
        conn.execute(
            _SET_BALANCE,
            [{"b_id": aid, "b_bal": state[aid]["balance_minor"]} for aid in sorted(touched)],
        )
    totals: dict[str, int] = {}
    for item, *_ in posted:
        totals[item.amount.code] = totals.get(item.amount.code, 0) + item.amount.minor
    running = {cur: _move_internal(conn, settlement[cur], total) for cur, total in totals.items()}

    posting_rows: list[dict[str, Any]] = []
    entry_rows: list[dict[str, Any]] = []
    events: list[Event] = []
    for item, entry_id, balance_after, key in posted:
        cur = item.amount.code
        running[cur] += item.amount.minor
        posting_rows.append(
            {
                "entry_id": entry_id,
                "account_id": item.account_id,
                "currency": cur,
                "amount_minor": -item.amount.minor,
                "balance_after_minor": balance_after,
            }
        )
        posting_rows.append(
            {
                "entry_id": entry_id,
                "account_id": settlement[cur],
                "currency": cur,
                "amount_minor": item.amount.minor,
                "balance_after_minor": running[cur],
            }
        )
        description = f"card payment {item.merchant}".strip()
        result = PostingResult(
            entry_id,
            EntryKind.CARD_PAYMENT,
            item.amount,
            item.account_id,
            settlement[cur],
            item.occurred_at,
            description,
        )
        metadata = {"merchant": item.merchant, **dict(item.metadata)}
        entry_rows.append(
            _entry_row(entry_id, EntryKind.CARD_PAYMENT, key, result, actor, metadata)
        )
        if emit_events:
            owner = state[item.account_id]["customer_id"]
            events.append(_posted(result, owner, None, channel="card", merchant=item.merchant))
    if posting_rows:
        conn.execute(postings.insert(), posting_rows)
        conn.execute(entries.insert(), entry_rows)
    outcome = CardBatchResult(len(posted), len(declined), duplicates, declined)
    return outcome, events

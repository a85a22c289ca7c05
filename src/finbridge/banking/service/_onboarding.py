"""Bulk onboarding: many customers with accounts and opening balances in few transactions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from finbridge.banking import events
from finbridge.banking.ledger import EntrySpec, Leg, apply_legs
from finbridge.banking.models import (
    AccountKind,
    EntryKind,
    InternalAccount,
    NewCustomerSpec,
    OpenedCustomer,
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
from finbridge.core.errors import ValidationError
from finbridge.core.ids import new_id
from finbridge.core.money import Money
from finbridge.core.principal import Principal
from finbridge.lake import Event

customers = customers_table
entries = entries_table
postings = postings_table


class OnboardingCommands(ServiceCore):
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
    for part in in_chunks(refs):
        rows = conn.execute(
            select(customers.c.external_ref, customers.c.id).where(
                customers.c.external_ref.in_(part)
            )
        )
        existing.update({r.external_ref: r.id for r in rows})
    existing_accounts: dict[str, list[str]] = {}
    for part in in_chunks(list(existing.values())):
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
            request_fingerprint=result_fingerprint(result),
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

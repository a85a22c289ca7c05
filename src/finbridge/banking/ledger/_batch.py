"""Many two-leg entries at once, through the same rule as a single posting.

Each item debits a customer account and credits one of the bank's accounts (card settlement).
Items are posted in *rounds*: round ``k`` holds the ``k``-th pending item of every account, so
one guarded ``UPDATE ... FROM (legs)`` per round (chunked) moves many accounts while each
account's items still apply in their order, and an item the rule refuses (funds, frozen
account, wrong currency) changes nothing and does not stop the next one. The bank's side moves
once per account per batch; the postings carry exact running balances on both sides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from finbridge.banking.ledger._posting import (
    Applied,
    EntrySpec,
    apply_legs,
    update_many,
)
from finbridge.banking.ledger._rule import Leg, refusal
from finbridge.banking.tables import entries_table, postings_table

ROUND_CHUNK = 1024  # legs per statement: 6 bound values each, inside every backend's limits


@dataclass(frozen=True, slots=True)
class BatchItem:
    debit: Leg  # the customer side (negative amount)
    counter_account_id: str  # the bank's account credited with the same amount
    spec: EntrySpec


@dataclass(frozen=True, slots=True)
class BatchPosted:
    item: BatchItem
    debit: Applied


@dataclass(frozen=True, slots=True)
class BatchRefused:
    item: BatchItem
    reason: str


def _rounds(items: Sequence[BatchItem]) -> list[list[BatchItem]]:
    rounds: list[list[BatchItem]] = []
    seen: dict[str, int] = {}
    for item in items:
        k = seen.get(item.debit.account_id, 0)
        seen[item.debit.account_id] = k + 1
        if k == len(rounds):
            rounds.append([])
        rounds[k].append(item)
    return rounds


def post_batch(
    conn: Connection, items: Sequence[BatchItem], *, explain_refusals: bool = False
) -> tuple[list[BatchPosted], list[BatchRefused]]:
    """Post what the rule admits, in the caller's transaction; refuse the rest.

    With ``explain_refusals`` each refusal carries the rule's precise reason (one read per
    refused item); otherwise the reason is ``"refused"``.
    """
    posted: list[BatchPosted] = []
    refused: list[BatchRefused] = []
    for round_ in _rounds(items):
        for start in range(0, len(round_), ROUND_CHUNK):
            chunk = round_[start : start + ROUND_CHUNK]
            moved = update_many(conn, [i.debit for i in chunk])
            for item in chunk:
                hit = moved.get(item.debit.account_id)
                if hit is not None:
                    applied = Applied(item.debit.account_id, item.debit.amount_minor, *hit)
                    posted.append(BatchPosted(item, applied))
                    continue
                reason = "refused"
                if explain_refusals:
                    error = refusal(conn, item.debit)
                    reason = "refused" if error is None else f"{error.code}: {error}"
                refused.append(BatchRefused(item, reason))
    counter_after = _move_counters(conn, posted)
    _write_rows(conn, posted, counter_after)
    return posted, refused


def _move_counters(conn: Connection, posted: Sequence[BatchPosted]) -> dict[str, int]:
    """Credit each bank account once with its total; returns its balance *before*."""
    totals: dict[tuple[str, str], int] = {}
    for p in posted:
        key = (p.item.counter_account_id, p.item.debit.currency)
        totals[key] = totals.get(key, 0) - p.item.debit.amount_minor
    legs = [Leg(account, cur, total) for (account, cur), total in sorted(totals.items())]
    applied = apply_legs(conn, legs)
    return {a.account_id: a.balance_after - a.amount_minor for a in applied}


def _write_rows(
    conn: Connection, posted: Sequence[BatchPosted], counter_before: dict[str, int]
) -> None:
    running = dict(counter_before)
    posting_rows: list[dict[str, Any]] = []
    entry_rows: list[dict[str, Any]] = []
    for p in posted:
        item, amount = p.item, -p.item.debit.amount_minor
        counter = item.counter_account_id
        running[counter] += amount
        cur = item.debit.currency
        posting_rows.append(_posting(item.spec.entry_id, item.debit.account_id, cur, -amount,
                                     p.debit.balance_after))  # fmt: skip
        posting_rows.append(_posting(item.spec.entry_id, counter, cur, amount, running[counter]))
        entry_rows.append(item.spec.row())
    # Postings first, then the entries that seal them (the SQLite balance trigger needs both).
    if posting_rows:
        conn.execute(postings_table.insert(), posting_rows)
        conn.execute(entries_table.insert(), entry_rows)


def _posting(entry_id: str, account_id: str, cur: str, amount: int, after: int) -> dict[str, Any]:
    return {
        "entry_id": entry_id,
        "account_id": account_id,
        "currency": cur,
        "amount_minor": amount,
        "balance_after_minor": after,
    }

"""SQLite: a movement and its event in one short transaction straight on the driver.

The analogue of PostgreSQL's :func:`~._posting.post_standalone`. SQLite has no writable CTEs,
so an entry is statements (the guarded UPDATE of :mod:`._statements`, compiled from the one
rule; the postings; the sealing entry; the outbox row) in one ``BEGIN IMMEDIATE`` transaction,
run on the ``sqlite3`` connection itself: no Session, no SQLAlchemy execution context per
statement, and ``sqlite3`` keeps each statement prepared per connection. Concurrent postings of
a process share that transaction (group commit, :mod:`._group`). Values are converted by the
columns' own bind processors, so the rows are the ones the Core path writes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import replace
from functools import cache
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.engine import Dialect

from finbridge.banking.ledger._group import group_commit, warm_group
from finbridge.banking.ledger._posting import (
    Applied,
    EntrySpec,
    balanced,
    post_with_retries,
)
from finbridge.banking.ledger._rule import Leg
from finbridge.banking.tables import entries_table
from finbridge.lake import Event, emit_driver


@cache
def _created_at(dialect: Dialect) -> Callable[[Any], Any]:
    """The entry's DateTime column's own conversion to what ``sqlite3`` stores."""
    convert = entries_table.c.created_at.type.dialect_impl(dialect).bind_processor(dialect)
    assert convert is not None
    return convert


def warm_sqlite(dialect: Dialect) -> None:
    """Compile a two-leg entry's statements and the outbox insert now."""
    _created_at(dialect)
    warm_group(dialect)
    emit_driver(None, dialect)  # no events: only compiles the insert


def post_sqlite(
    engine: Engine,
    write_lock: AbstractContextManager[Any],
    legs: Sequence[Leg],
    spec: EntrySpec,
    event: Event,
    event_legs: tuple[str, str],
) -> list[Applied]:
    """Post ``legs``, seal ``spec`` and write ``event`` to the outbox, atomically.

    Raises :class:`KnownRefusal` (nothing written) if a refusal is stored under the key.
    As on PostgreSQL, ``event`` is validated here, before the write lock is taken, and the
    transaction fills in ``from_customer_id``/``to_customer_id`` (and the subject) from the
    rows of the accounts ``event_legs`` names as it moves them (an account's customer never
    changes; the column's type is the schema's ``str | None``). Raises :class:`Replay` if the
    idempotency key is taken, the rule's precise error if a leg is refused.
    """
    balanced(legs)
    work = _Work(
        legs=legs,
        spec=spec,
        created_at=_created_at(engine.dialect),
        event=event.validated(),
        event_legs=event_legs,
    )
    group = group_commit(engine, write_lock)
    return post_with_retries(engine, legs, lambda: group.post(work))


class _Work:
    """Everything one posting binds, computed once outside the write lock."""

    def __init__(
        self,
        *,
        legs: Sequence[Leg],
        spec: EntrySpec,
        created_at: Callable[[Any], Any],
        event: Event,
        event_legs: tuple[str, str],
    ) -> None:
        self.legs, self.spec = legs, spec
        self.event, self.event_legs = event, event_legs
        self.entry_args = (  # in the entry INSERT's column order (_group.ENTRY_COLUMNS)
            spec.entry_id,
            spec.kind,
            spec.scoped_key,
            spec.request_fingerprint,
            json.dumps(dict(spec.result)),
            spec.description,
            None if spec.metadata is None else json.dumps(dict(spec.metadata)),
            spec.actor_id,
            created_at(spec.created_at),
        )

    @property
    def scoped_key(self) -> str:
        return self.spec.scoped_key

    def posted_event(self, owners: Mapping[str, str | None]) -> Event:
        src, dst = (owners[self.event_legs[0]], owners[self.event_legs[1]])
        payload = {**self.event.payload, "from_customer_id": src, "to_customer_id": dst}
        return replace(self.event, payload=payload, subject_id=src or dst)

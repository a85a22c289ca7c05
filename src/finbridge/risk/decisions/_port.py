"""The decision-store port: how the decision maker keeps decisions, without knowing where.

The decision maker computes a decision in memory and hands the rows that make it durable to a
``DecisionStore``; the store answers once they are committed. How it commits (one transaction per
decision, a writer thread sharing commits, a child process) and how it answers "was this event
decided?" cheaply are the store's business (``finbridge.risk.store``), not the domain's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from finbridge.core.errors import Conflict
from finbridge.lake import Event
from finbridge.risk.decisions._decision import Decision

# The column order of the rows in ``Writes``: plain tuples, not dicts, because the rows cross a
# pipe to the writer process and are inserted positionally by one pre-compiled statement (the
# per-row dict handling of SQLAlchemy Core was about half of the writer process's CPU, h10g).
DECISION_COLUMNS = (
    "id",
    "event_id",
    "mode",
    "event_type",
    "customer_id",
    "occurred_at",
    "decided_at",
    "outcome",
    "score",
    "ml_score",
    "amount_minor",
    "currency",
    "rule_set",
    "model_version",
    "fired",
    "reasons",
    "degraded",
    "request",
)
CASE_COLUMNS = (
    "id",
    "decision_id",
    "event_id",
    "customer_id",
    "status",
    "priority",
    "assignee",
    "opened_at",
    "sla_due_at",
)


@dataclass
class Writes:
    """The rows that make one decision durable: decision(s), a review case, its events.

    Rows are tuples in ``DECISION_COLUMNS`` / ``CASE_COLUMNS`` order; events are already
    validated by their schema (:meth:`Event.validated`, where they are built), so the store
    writes them as they are.
    """

    decisions: list[tuple[Any, ...]] = field(default_factory=list)
    cases: list[tuple[Any, ...]] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)


class DuplicateEvent(Conflict):
    """The event id was decided and stored already (two callers raced with the same event)."""

    code = "duplicate_event"


class DecisionStore(Protocol):
    def decided(self, event_id: str) -> bool:
        """Whether a live decision for ``event_id`` is stored (asked for every event: cheap)."""
        ...

    def stored(self, event_id: str) -> Decision | None:
        """The stored live decision for ``event_id``, with its case and posting outcome."""
        ...

    def save(self, writes: Writes) -> None:
        """Commit ``writes`` before returning; ``DuplicateEvent`` if the event is stored."""
        ...

    async def save_async(self, writes: Writes) -> None:
        """:meth:`save` for an event loop: awaits the commit without holding a thread."""
        ...

    def record_posting(self, decision_id: str, *, posted: bool, reason: str | None) -> None:
        """Record the fate of the ledger posting ``decision_id`` was taken for."""
        ...

    def warm(self) -> None:
        """Open connections and start writers now, not on the first decision."""
        ...

    def close(self) -> None:
        """Flush what is pending and release connections, threads and processes."""
        ...

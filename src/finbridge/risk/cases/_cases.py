"""Case management: the review queue, assignment, notes, decisions, SLA timers and labels.

Closing a case records the analyst's verdict and emits ``risk.label`` (fraud / not_fraud) in the
same transaction: the learning loop's training labels come from here. A card scheme's
chargeback (:meth:`CaseService.chargeback`) is a fraud label from outside: recorded as a closed
``chargeback`` case on the decision, known from the instant it arrived, with ``risk.chargeback``.

Other engines open cases too (:meth:`CaseService.open`, e.g. payments for a sanctions screening
hit): such a case has an ``origin`` and a ``subject_id`` instead of a decision, yields no fraud
label, and its verdict goes back to the engine that opened it through a :class:`CaseResolver`
the platform registers for that origin (risk never imports the other engine).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from finbridge.core.clock import Clock
from finbridge.core.errors import Conflict, NotFound, ValidationError
from finbridge.core.ids import new_id
from finbridge.core.principal import Principal
from finbridge.lake import Event, emit
from finbridge.risk.events import SOURCE
from finbridge.risk.rules._lists import ensure_aware_db
from finbridge.risk.tables import CaseNoteRow, CaseRow, DecisionRow
from finbridge.store.engine import unit_of_work

RESOLUTIONS = {"confirm": "fraud", "release": "not_fraud"}
DECISION = "decision"  # the origin of the engine's own review cases
CHARGEBACK = "chargeback"  # a card scheme's dispute: a fraud label known when it arrived
EXTERNAL_SLA = timedelta(hours=1)  # a held payment waits on it: the urgent SLA


@dataclass(frozen=True, slots=True)
class CaseNote:
    author: str
    body: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Case:
    id: str
    decision_id: str | None
    event_id: str | None
    customer_id: str | None
    status: str
    priority: int
    assignee: str | None
    opened_at: datetime
    sla_due_at: datetime
    closed_at: datetime | None
    resolution: str | None
    label: str | None
    overdue: bool
    minutes_left: int
    reasons: tuple[str, ...] = ()
    score: float = 0.0
    notes: tuple[CaseNote, ...] = ()
    origin: str = DECISION
    subject_id: str | None = None
    summary: str | None = None


class CaseResolver(Protocol):
    """Port: the engine that opened a case hears its verdict (``confirm`` or ``release``)."""

    def case_closed(self, case: Case, actor: Principal) -> None: ...


class CaseService:
    def __init__(
        self, engine: Engine, clock: Clock, resolvers: Mapping[str, CaseResolver] | None = None
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.resolvers = dict(resolvers or {})

    def _case(self, row: CaseRow, d: DecisionRow | None, notes: tuple[CaseNote, ...] = ()) -> Case:
        now = self.clock.now()
        due = ensure_aware_db(row.sla_due_at)
        end = ensure_aware_db(row.closed_at) if row.closed_at else now
        return Case(
            row.id,
            row.decision_id,
            row.event_id,
            row.customer_id,
            row.status,
            row.priority,
            row.assignee,
            ensure_aware_db(row.opened_at),
            due,
            ensure_aware_db(row.closed_at) if row.closed_at else None,
            row.resolution,
            row.label,
            end > due,
            int((due - now).total_seconds() // 60),
            tuple(d.reasons) if d else (),
            d.score if d else 0.0,
            notes,
            row.origin or DECISION,
            row.subject_id,
            row.summary,
        )

    def open(
        self,
        actor: Principal,
        *,
        origin: str,
        subject_id: str,
        customer_id: str | None,
        summary: str,
        priority: int = 1,
    ) -> Case:
        """A case another engine asks an analyst to decide; one per (origin, subject)."""
        actor.require_scope("risk:write")
        if not origin or origin == DECISION or len(origin) > 32:
            raise ValidationError("an engine's origin of 1-32 characters", field="origin")
        if not subject_id or len(subject_id) > 64:
            raise ValidationError("a subject id of 1-64 characters", field="subject_id")
        if not summary.strip():
            raise ValidationError("say why the case is opened", field="summary")
        now = self.clock.now()
        with unit_of_work(self.engine) as s:
            found = s.scalar(
                select(CaseRow.id).where(CaseRow.origin == origin, CaseRow.subject_id == subject_id)
            )
            if found is None:
                found = new_id()
                s.add(
                    CaseRow(
                        id=found, decision_id=None, event_id=None, customer_id=customer_id,
                        status="open", priority=priority, assignee=None, opened_at=now,
                        sla_due_at=now + EXTERNAL_SLA, closed_at=None, resolution=None,
                        label=None, origin=origin, subject_id=subject_id,
                        summary=summary.strip()[:300],
                    )
                )  # fmt: skip
        return self.get(actor, found)

    def queue(self, actor: Principal, *, status: str = "open", limit: int = 100) -> list[Case]:
        """Open (or assigned / closed) cases, most urgent first: priority, then SLA due time."""
        actor.require_scope("risk:read")
        if status not in ("open", "assigned", "closed", "active"):
            raise ValidationError("status must be open, assigned, closed or active", field="status")
        wanted = ("open", "assigned") if status == "active" else (status,)
        with unit_of_work(self.engine, write=False) as s:
            rows = s.execute(
                select(CaseRow, DecisionRow)
                .outerjoin(DecisionRow, DecisionRow.id == CaseRow.decision_id)
                .where(CaseRow.status.in_(wanted))
                .order_by(CaseRow.priority, CaseRow.sla_due_at)
                .limit(max(1, min(limit, 500)))
            ).all()
        return [self._case(c, d) for c, d in rows]

    def get(self, actor: Principal, case_id: str) -> Case:
        actor.require_scope("risk:read")
        with unit_of_work(self.engine, write=False) as s:
            row = s.get(CaseRow, case_id)
            if row is None:
                raise NotFound(f"case {case_id} not found")
            d = s.get(DecisionRow, row.decision_id) if row.decision_id else None
            notes = tuple(
                CaseNote(n.author, n.body, ensure_aware_db(n.created_at))
                for n in s.scalars(
                    select(CaseNoteRow)
                    .where(CaseNoteRow.case_id == case_id)
                    .order_by(CaseNoteRow.created_at)
                )
            )
        return self._case(row, d, notes)

    def assign(self, actor: Principal, case_id: str, assignee: str | None = None) -> Case:
        actor.require_scope("risk:write")
        with unit_of_work(self.engine) as s:
            row = self._open_row(s, case_id)
            row.assignee = assignee or actor.id
            row.status = "assigned"
        return self.get(actor, case_id)

    def note(self, actor: Principal, case_id: str, body: str) -> Case:
        actor.require_scope("risk:write")
        if not body.strip() or len(body) > 4000:
            raise ValidationError("note must be 1..4000 characters", field="body")
        with unit_of_work(self.engine) as s:
            if s.get(CaseRow, case_id) is None:
                raise NotFound(f"case {case_id} not found")
            s.add(
                CaseNoteRow(
                    id=new_id(),
                    case_id=case_id,
                    author=actor.id,
                    body=body.strip(),
                    created_at=self.clock.now(),
                )
            )
        return self.get(actor, case_id)

    def close(self, actor: Principal, case_id: str, resolution: str, note: str = "") -> Case:
        """``confirm`` (it was fraud, or a true screening match) or ``release`` (it was not).
        A decision's case emits the training label; another engine's case is handed back to
        it (its resolver runs after the case is closed, and is safe to run again)."""
        actor.require_scope("risk:write")
        if resolution not in RESOLUTIONS:
            raise ValidationError("resolution must be confirm or release", field="resolution")
        now = self.clock.now()
        with unit_of_work(self.engine) as s:
            row = self._open_row(s, case_id)
            origin = row.origin or DECISION
            if origin != DECISION and origin not in self.resolvers:
                raise Conflict(
                    f"case {case_id} belongs to {origin}, which is not connected here",
                    field="case_id",
                )
            row.status = "closed"
            row.closed_at = now
            row.resolution = resolution
            row.label = RESOLUTIONS[resolution] if origin == DECISION else None
            if row.assignee is None:
                row.assignee = actor.id
            if note.strip():
                s.add(
                    CaseNoteRow(
                        id=new_id(), case_id=case_id, author=actor.id, body=note.strip(),
                        created_at=now,
                    )
                )  # fmt: skip
            if origin == DECISION:
                _label(s, row, actor, now)
        closed = self.get(actor, case_id)
        if origin != DECISION:
            self.resolvers[origin].case_closed(closed, actor)
        return closed

    def chargeback(
        self, actor: Principal, event_id: str, *, reason_code: str, note: str = ""
    ) -> Case:
        """Record a card scheme's chargeback on the payment the engine decided as
        ``event_id``: a fraud label known from now (the learning loop's label readers take
        the newest verdict known by their time, so a chargeback after an analyst released
        the payment makes it fraud from then on, not before). One per payment: a repeat
        answers the first; ``risk.chargeback`` is emitted once, in the same transaction."""
        actor.require_scope("risk:write")
        if not reason_code.strip() or len(reason_code) > 16:
            raise ValidationError("a reason code of 1-16 characters", field="reason_code")
        now = self.clock.now()
        with unit_of_work(self.engine) as s:
            found = s.scalar(
                select(CaseRow.id).where(
                    CaseRow.origin == CHARGEBACK, CaseRow.subject_id == event_id
                )
            )
            if found is not None:
                return self.get(actor, found)
            decision = s.scalar(
                select(DecisionRow).where(
                    DecisionRow.event_id == event_id, DecisionRow.mode == "live"
                )
            )
            if decision is None:
                raise NotFound(f"no live decision for event {event_id}", field="event_id")
            found = new_id()
            summary = f"chargeback {reason_code.strip()}" + (f": {note.strip()}" if note else "")
            s.add(
                CaseRow(
                    id=found, decision_id=decision.id, event_id=event_id,
                    customer_id=decision.customer_id, status="closed", priority=1,
                    assignee=actor.id, opened_at=now, sla_due_at=now, closed_at=now,
                    resolution="confirm", label=RESOLUTIONS["confirm"], origin=CHARGEBACK,
                    subject_id=event_id, summary=summary[:300],
                )
            )  # fmt: skip
            emit(
                s,
                Event(
                    event_type="risk.chargeback",
                    occurred_at=now,
                    source=SOURCE,
                    subject_id=decision.customer_id,
                    payload={
                        "event_id": event_id,
                        "customer_id": decision.customer_id,
                        "reason_code": reason_code.strip(),
                        "label": RESOLUTIONS["confirm"],
                    },
                ),
            )
        return self.get(actor, found)

    @staticmethod
    def _open_row(s: object, case_id: str) -> CaseRow:
        from sqlalchemy.orm import Session

        assert isinstance(s, Session)
        row = s.get(CaseRow, case_id, with_for_update=True)
        if row is None:
            raise NotFound(f"case {case_id} not found")
        if row.status == "closed":
            raise Conflict(f"case {case_id} is already closed")
        return row


def _label(s: Session, row: CaseRow, actor: Principal, now: datetime) -> None:
    """The analyst's verdict as a training label, in the closing transaction."""
    emit(
        s,
        Event(
            event_type="risk.label",
            occurred_at=now,
            source=SOURCE,
            subject_id=row.customer_id,
            payload={
                "case_id": row.id,
                "decision_id": row.decision_id,
                "event_id": row.event_id,
                "customer_id": row.customer_id,
                "label": row.label,
                "analyst": actor.id,
            },
        ),
    )

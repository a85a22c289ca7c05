"""The close-of-business runner: ordered steps per business date, journaled, resumable.

A day's row in ``lending_cob_days`` is written before its first step and marked ``done`` after
its last; each step's row is marked ``done`` in its own commit after the step returns. A run
killed half-way leaves the day ``running`` with some steps done: the next run resumes that day at
the first step not done (each step is itself idempotent per date, so a step that died half-way
finishes without posting anything twice), then goes on to the following days in order. A date
before the last one finished is refused; missed days are caught up one by one.

Where to start: after the last day journaled; on a database where no day was ever closed, at
the first day a credit line existed, or else at yesterday (a fresh bank has no history to close,
so it does not walk from an epoch). A caller may bound a run with ``max_days``: the API does, so
that a request never turns into hours of catch-up; the CLI (``finbridge cob run --until``) does
not.

The steps are supplied by the platform (:class:`CobStep`): lending's own, and banking's hold
expiry, interest and outbox purge, without lending importing anything but banking's face.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Engine, select, text

from finbridge.core.clock import Clock, business_date
from finbridge.core.errors import Conflict, ValidationError
from finbridge.core.principal import Principal
from finbridge.lake import Event, emit
from finbridge.lending.tables import CobDayRow, CobStepRow
from finbridge.store.engine import is_sqlite, unit_of_work

# Arbitrary constant for PostgreSQL's advisory lock: one COB at a time per database.
_PG_LOCK_KEY = 0x1EAD_C0B


def _utc(instant: datetime) -> datetime:
    # SQLite hands back naive datetimes; they were written in UTC.
    return instant if instant.tzinfo is not None else instant.replace(tzinfo=UTC)


def _utc_or_none(instant: datetime | None) -> datetime | None:
    return None if instant is None else _utc(instant)


class CobStep(Protocol):
    """One step of the bank's day: ``run`` must be idempotent for a given date."""

    @property
    def name(self) -> str: ...

    def run(self, business_date: date) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class FunctionStep:
    """A step made from a function (how the platform adapts other engines' batch jobs)."""

    name: str
    fn: Callable[[date], dict[str, Any]]

    def run(self, business_date: date) -> dict[str, Any]:
        return self.fn(business_date)


@dataclass(frozen=True, slots=True)
class StepRecord:
    step: str
    position: int
    status: str
    started_at: datetime
    finished_at: datetime | None
    result: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CobDay:
    business_date: date
    status: str
    started_at: datetime
    finished_at: datetime | None
    steps: tuple[StepRecord, ...]


@dataclass(frozen=True, slots=True)
class CobStatus:
    last_done: date | None
    running: date | None
    next_date: date | None
    due_until: date  # yesterday in business time: the last day that may be closed now
    steps: tuple[str, ...]
    recent: tuple[CobDay, ...]

    @property
    def behind(self) -> int:
        if self.next_date is None:
            return 0
        return max(0, (self.due_until - self.next_date).days + 1)


# progress(day, step name, index of the step, number of steps)
Progress = Callable[[date, str, int, int], None]


class CobRunner:
    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        steps: Sequence[CobStep],
        *,
        business_timezone: str = "Asia/Shanghai",
        first_date: Callable[[], date | None] | None = None,
    ) -> None:
        names = [s.name for s in steps]
        if len(set(names)) != len(names):
            raise ValueError(f"COB step names must be unique: {names}")
        self.engine = engine
        self.clock = clock
        self.steps = tuple(steps)
        self.business_timezone = business_timezone
        self._first_date = first_date
        self._local = threading.Lock()

    def today(self) -> date:
        return business_date(self.clock.now(), self.business_timezone)

    # -- reading ---------------------------------------------------------------------------

    def status(self, actor: Principal, *, recent: int = 10) -> CobStatus:
        actor.require_scope("lending:read")
        with unit_of_work(self.engine, write=False) as session:
            days = list(
                session.execute(
                    select(CobDayRow).order_by(CobDayRow.business_date.desc()).limit(recent)
                ).scalars()
            )
            step_rows = list(
                session.execute(
                    select(CobStepRow).where(
                        CobStepRow.business_date.in_([d.business_date for d in days])
                    )
                ).scalars()
            )
        by_day: dict[date, list[StepRecord]] = {}
        for s in sorted(step_rows, key=lambda r: r.position):
            record = StepRecord(
                s.step, s.position, s.status, _utc(s.started_at), _utc_or_none(s.finished_at),
                s.result,
            )  # fmt: skip
            by_day.setdefault(s.business_date, []).append(record)
        out = tuple(
            CobDay(d.business_date, d.status, _utc(d.started_at), _utc_or_none(d.finished_at),
                   tuple(by_day.get(d.business_date, ())))
            for d in days
        )  # fmt: skip
        done = [d.business_date for d in days if d.status == "done"]
        running = next((d.business_date for d in days if d.status == "running"), None)
        last_done = max(done) if done else None
        nxt = running or (last_done + timedelta(days=1) if last_done else None)
        return CobStatus(
            last_done, running, nxt, self.today() - timedelta(days=1),
            tuple(s.name for s in self.steps), out,
        )  # fmt: skip

    # -- running ---------------------------------------------------------------------------

    def plan(self, until: date | None = None, *, max_days: int | None = None) -> list[date]:
        """The dates a run up to ``until`` (default: yesterday) would close, in order.

        More than ``max_days`` dates is refused (naming ``until``) rather than started.
        """
        yesterday = self.today() - timedelta(days=1)
        until = until or yesterday
        with unit_of_work(self.engine, write=False) as session:
            last = session.execute(
                select(CobDayRow).order_by(CobDayRow.business_date.desc()).limit(1)
            ).scalar_one_or_none()
        if last is None:
            first = self._first_date() if self._first_date else None
            # An explicit earlier ``until`` is the operator's choice of where the books begin.
            start = min(first or yesterday, until)
        elif last.status == "running":
            start = last.business_date
        else:
            start = last.business_date + timedelta(days=1)
        if last is not None and until < last.business_date:
            raise ValidationError(
                f"the close of business already ran for {last.business_date}; {until} is before it",
                field="until",
            )
        if until >= self.today():
            raise ValidationError(
                f"{until} is not over yet in business time ({self.business_timezone})",
                field="until",
            )
        count = (until - start).days + 1
        if max_days is not None and count > max_days:
            raise ValidationError(
                f"closing {start} to {until} is {count} days, more than the {max_days} a request "
                f"may catch up; run `finbridge cob run --until {until}` instead",
                field="until",
            )
        return [start + timedelta(days=k) for k in range(count)]

    def run(
        self,
        actor: Principal,
        *,
        until: date | None = None,
        progress: Progress | None = None,
        stop_after: str | None = None,
        max_days: int | None = None,
    ) -> list[date]:
        """Close every day up to ``until``; returns the days closed by this call.

        ``stop_after`` ends the run right after the named step (tests and operators use it to
        rehearse a crash: the next run resumes from there). ``max_days`` bounds the catch-up
        (see :meth:`plan`).
        """
        actor.require_scope("lending:cob")
        closed: list[date] = []
        with self._exclusive():
            for day in self.plan(until, max_days=max_days):
                finished = self._run_day(day, progress, stop_after)
                if not finished:
                    break
                closed.append(day)
        return closed

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        """One COB at a time: a process-local lock, plus PostgreSQL's advisory lock across
        processes (SQLite serialises writers itself, and each step's work is idempotent)."""
        if not self._local.acquire(blocking=False):
            raise Conflict("a close of business is already running", field="cob")
        try:
            if is_sqlite(self.engine):
                yield
                return
            with self.engine.connect() as conn:
                got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": _PG_LOCK_KEY})
                if not got.scalar():
                    raise Conflict("a close of business is already running", field="cob")
                try:
                    yield
                finally:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_LOCK_KEY})
                    conn.commit()
        finally:
            self._local.release()

    def _run_day(self, day: date, progress: Progress | None, stop_after: str | None) -> bool:
        now = self.clock.now()
        with unit_of_work(self.engine) as session:
            row = session.get(CobDayRow, day)
            if row is None:
                session.add(CobDayRow(business_date=day, status="running", started_at=now))
            done = {
                s.step
                for s in session.execute(
                    select(CobStepRow).where(
                        CobStepRow.business_date == day, CobStepRow.status == "done"
                    )
                ).scalars()
            }
        total = len(self.steps)
        for position, step in enumerate(self.steps):
            if progress:
                progress(day, step.name, position, total)
            if step.name in done:
                continue
            with unit_of_work(self.engine) as session:
                if session.get(CobStepRow, (day, step.name)) is None:
                    session.add(
                        CobStepRow(
                            business_date=day,
                            step=step.name,
                            position=position,
                            status="running",
                            started_at=self.clock.now(),
                            result={},
                        )
                    )
            result = step.run(day)
            with unit_of_work(self.engine) as session:
                rec = session.get(CobStepRow, (day, step.name))
                assert rec is not None
                rec.status, rec.finished_at, rec.result = "done", self.clock.now(), result
            if stop_after == step.name:
                return False
        if progress:
            progress(day, "done", total, total)
        with unit_of_work(self.engine) as session:
            rec_day = session.get(CobDayRow, day)
            assert rec_day is not None
            rec_day.status, rec_day.finished_at = "done", self.clock.now()
            emit(
                session,
                Event(
                    event_type="lending.cob_day_finished",
                    occurred_at=self.clock.now(),
                    source="lending",
                    payload={
                        "business_date": day.isoformat(),
                        "steps": [s.name for s in self.steps],
                    },
                ).validated(),
            )
        return True

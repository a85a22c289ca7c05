"""Per-app usage of the third-party APIs: calls per app, business day, resource and outcome.

Counting sits on every ``/open-banking/v1`` call, so it must cost next to nothing there: a call
adds one to an in-process counter (a dict under a lock) and the counters are added to the
database in one upsert batch every few seconds (``INSERT ... ON CONFLICT DO UPDATE SET calls =
calls + excluded.calls``, the same statement on SQLite and PostgreSQL). On SQLite that keeps the
single writer lock off the read's path; on PostgreSQL one upsert per call would also do, but
one path for both backends is one path to test. Several serving processes each add their own
counts, so the sums stay right; at most a few seconds of one process's counts are lost if it is
killed (``close`` flushes on a clean stop). Reading flushes this process's counts first.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.dialects import postgresql, sqlite

from finbridge.core.clock import Clock, business_date
from finbridge.core.errors import NotFound
from finbridge.core.principal import Principal
from finbridge.openbanking.tables import AppRow, UsageRow
from finbridge.store.engine import unit_of_work

log = logging.getLogger(__name__)

SERVED = "served"
RATE_LIMITED = "rate_limited"

_Key = tuple[str, date, str, str]


def refused(error: str) -> str:
    """The outcome of a refused call, naming its error (``refused:invalid_token``)."""
    return f"refused:{error}"[:80]


@dataclass(frozen=True, slots=True)
class Usage:
    client_id: str
    day: date
    resource: str
    outcome: str
    calls: int


class UsageMeter:
    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        *,
        business_timezone: str,
        flush_seconds: float = 5.0,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._tz = business_timezone
        self._every = flush_seconds
        self._pending: Counter[_Key] = Counter()
        self._lock = threading.Lock()  # guards _pending (held for a dict update only)
        self._flushing = threading.Lock()  # one flush at a time, so a reader waits for it
        # Monotonic, not the business clock: this paces writes, it dates nothing.
        self._last = time.monotonic()

    def count(self, client_id: str, resource: str, outcome: str) -> bool:
        """One call; True when a flush is due (the caller runs ``flush`` off its own path)."""
        key = (client_id, business_date(self._clock.now(), self._tz), resource, outcome)
        with self._lock:
            self._pending[key] += 1
            return time.monotonic() - self._last >= self._every

    def flush(self) -> int:
        """Add the pending counts to the database; the number of rows touched. Counts that
        fail to write go back to the pending ones (retried on the next flush)."""
        with self._flushing:
            with self._lock:
                batch, self._pending = self._pending, Counter()
                self._last = time.monotonic()
            if not batch:
                return 0
            try:
                self._write(batch)
            except Exception:
                with self._lock:
                    self._pending.update(batch)
                raise
            return len(batch)

    def flush_quietly(self) -> None:
        """For background callers: a failed flush is logged and retried later."""
        try:
            self.flush()
        except Exception:
            log.exception("open-banking usage counters not written; retrying on the next flush")

    def _write(self, batch: Counter[_Key]) -> None:
        rows = [
            {"client_id": c, "day": d, "resource": r, "outcome": o, "calls": n}
            for (c, d, r, o), n in sorted(batch.items())  # one order: no deadlock between workers
        ]
        dialect = postgresql if self._engine.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(UsageRow)
        stmt = stmt.on_conflict_do_update(
            index_elements=["client_id", "day", "resource", "outcome"],
            set_={"calls": UsageRow.calls + stmt.excluded.calls},
        )
        with unit_of_work(self._engine) as session:
            session.execute(stmt, rows)

    def report(
        self,
        actor: Principal,
        *,
        client_id: str | None = None,
        since: date | None = None,
        days: int | None = None,
        limit: int = 500,
    ) -> list[Usage]:
        """Operators (``openbanking:read``) see every app; a developer (``openbanking:write``)
        only the apps it registered, another's being answered as unknown. Newest day first;
        ``days`` keeps the last so many business days (today included)."""
        if days is not None:
            today = business_date(self._clock.now(), self._tz)
            since = max(since or date.min, today - timedelta(days=max(days, 1) - 1))
        if not actor.has_scope("openbanking:read"):
            actor.require_scope("openbanking:write")
        self.flush()
        stmt = select(UsageRow).order_by(
            UsageRow.day.desc(), UsageRow.client_id, UsageRow.resource, UsageRow.outcome
        )
        if not actor.has_scope("openbanking:read"):
            own = select(AppRow.id).where(AppRow.owner_id == actor.id)
            stmt = stmt.where(UsageRow.client_id.in_(own))
        if client_id is not None:
            stmt = stmt.where(UsageRow.client_id == client_id)
        if since is not None:
            stmt = stmt.where(UsageRow.day >= since)
        with unit_of_work(self._engine, write=False) as session:
            if client_id is not None and not actor.has_scope("openbanking:read"):
                app = session.get(AppRow, client_id)
                if app is None or app.owner_id != actor.id:
                    raise NotFound("no such app", field="client_id")
            found = session.scalars(stmt.limit(max(1, min(limit, 5000)))).all()
        return [Usage(r.client_id, r.day, r.resource, r.outcome, r.calls) for r in found]

    def close(self) -> None:
        self.flush_quietly()

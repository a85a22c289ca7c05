"""Block / allow / watch lists of customers, devices, IPs, cards, merchants and payees.

Entries carry provenance (who added them, from what source) and an optional expiry; removal is a
soft delete so the history stays auditable. Decisions read a snapshot cached in memory and
refreshed every few seconds (and at once after a local change), so a list hit costs a dict
lookup, not a query.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, or_, select, update

from finbridge.core.clock import Clock, ensure_aware
from finbridge.core.errors import NotFound, ValidationError
from finbridge.core.ids import new_id
from finbridge.core.principal import Principal
from finbridge.risk.tables import ListEntryRow
from finbridge.store.engine import unit_of_work

LIST_KINDS = ("block", "allow", "watch")
LIST_ENTITIES = ("customer", "device", "ip", "card", "account", "merchant", "terminal", "payee")


@dataclass(frozen=True, slots=True)
class ListEntry:
    id: str
    list_kind: str
    entity_type: str
    value: str
    reason: str
    source: str
    created_by: str
    created_at: datetime
    expires_at: datetime | None

    @classmethod
    def of(cls, row: ListEntryRow) -> ListEntry:
        return cls(
            row.id,
            row.list_kind,
            row.entity_type,
            row.value,
            row.reason,
            row.source,
            row.created_by,
            ensure_aware_db(row.created_at),
            ensure_aware_db(row.expires_at) if row.expires_at else None,
        )


def ensure_aware_db(value: datetime) -> datetime:
    """SQLite hands back naive datetimes for timezone-aware columns; they were stored in UTC."""
    from datetime import UTC

    return value if value.tzinfo else value.replace(tzinfo=UTC)


class ListService:
    def __init__(self, engine: Engine, clock: Clock, *, refresh_s: float = 2.0) -> None:
        self.engine = engine
        self.clock = clock
        self._refresh_s = refresh_s
        self._snapshot: dict[tuple[str, str], list[ListEntry]] = {}
        self._loaded_at = -1e9
        self._lock = threading.Lock()

    def add(
        self,
        actor: Principal,
        *,
        list_kind: str,
        entity_type: str,
        value: str,
        reason: str,
        source: str,
        expires_at: datetime | None = None,
    ) -> ListEntry:
        actor.require_scope("risk:write")
        if list_kind not in LIST_KINDS:
            raise ValidationError(f"list must be one of {LIST_KINDS}", field="list_kind")
        if entity_type not in LIST_ENTITIES:
            raise ValidationError(f"entity must be one of {LIST_ENTITIES}", field="entity_type")
        if not value.strip() or len(value) > 128:
            raise ValidationError("value must be 1..128 characters", field="value")
        if not reason.strip():
            raise ValidationError("say why the entry is added", field="reason")
        if not source.strip():
            raise ValidationError("provenance (source) is required", field="source")
        now = self.clock.now()
        if expires_at is not None and ensure_aware(expires_at) <= now:
            raise ValidationError("expiry must be in the future", field="expires_at")
        row = ListEntryRow(
            id=new_id(),
            list_kind=list_kind,
            entity_type=entity_type,
            value=value.strip(),
            reason=reason.strip(),
            source=source.strip(),
            created_by=actor.id,
            created_at=now,
            expires_at=expires_at,
        )
        with unit_of_work(self.engine) as s:
            s.add(row)
        self._loaded_at = -1e9
        return ListEntry.of(row)

    def remove(self, actor: Principal, entry_id: str) -> None:
        actor.require_scope("risk:write")
        with unit_of_work(self.engine) as s:
            done = s.execute(
                update(ListEntryRow)
                .where(ListEntryRow.id == entry_id, ListEntryRow.removed_at.is_(None))
                .values(removed_at=self.clock.now())
            )
            if not done.rowcount:  # type: ignore[attr-defined]
                raise NotFound(f"list entry {entry_id} not found")
        self._loaded_at = -1e9

    def entries(self, actor: Principal, *, include_expired: bool = False) -> list[ListEntry]:
        actor.require_scope("risk:read")
        now = self.clock.now()
        q = select(ListEntryRow).where(ListEntryRow.removed_at.is_(None))
        if not include_expired:
            q = q.where(or_(ListEntryRow.expires_at.is_(None), ListEntryRow.expires_at > now))
        with unit_of_work(self.engine, write=False) as s:
            rows = s.scalars(q.order_by(ListEntryRow.created_at.desc())).all()
        return [ListEntry.of(r) for r in rows]

    def hits(self, keys: Mapping[str, str | None], at: datetime) -> list[ListEntry]:
        """Unexpired entries matching any of ``keys`` (entity type -> value) at instant ``at``."""
        snapshot = self._current()
        found: list[ListEntry] = []
        for entity_type, value in keys.items():
            if not value:
                continue
            for entry in snapshot.get((entity_type, value), ()):
                if entry.expires_at is None or entry.expires_at > at:
                    found.append(entry)
        return found

    def _current(self) -> dict[tuple[str, str], list[ListEntry]]:
        if time.monotonic() - self._loaded_at < self._refresh_s:
            return self._snapshot
        with self._lock:
            if time.monotonic() - self._loaded_at >= self._refresh_s:
                with unit_of_work(self.engine, write=False) as s:
                    rows = s.scalars(
                        select(ListEntryRow).where(ListEntryRow.removed_at.is_(None))
                    ).all()
                snap: dict[tuple[str, str], list[ListEntry]] = {}
                for r in rows:
                    snap.setdefault((r.entity_type, r.value), []).append(ListEntry.of(r))
                self._snapshot = snap
                self._loaded_at = time.monotonic()
        return self._snapshot

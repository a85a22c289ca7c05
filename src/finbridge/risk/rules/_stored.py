"""Versioned rule sets: draft -> (shadow) -> active, with one audited promotion step.

Saving validates first (nothing invalid is ever stored). Promotion retires the previous active
(or shadow) version and emits ``risk.rule_set_promoted`` in the same transaction; running
engines notice the new version on their next refresh, so no restart is needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, func, select

from finbridge.core.clock import Clock
from finbridge.core.errors import Conflict, NotFound
from finbridge.core.ids import new_id
from finbridge.core.principal import Principal
from finbridge.lake import Event, emit
from finbridge.risk.events import SOURCE
from finbridge.risk.rules._spec import (
    CompiledRuleSet,
    FeatureCatalog,
    Problem,
    RuleSetSpec,
    require_valid,
    validate,
)
from finbridge.risk.tables import RuleSetRow
from finbridge.store.engine import unit_of_work

STATUSES = ("draft", "shadow", "active", "retired")


@dataclass(frozen=True, slots=True)
class StoredRuleSet:
    id: str
    name: str
    version: int
    status: str
    spec: RuleSetSpec
    created_by: str
    created_at: datetime
    promoted_by: str | None
    promoted_at: datetime | None

    @property
    def label(self) -> str:
        return f"{self.name}@v{self.version}"

    @classmethod
    def of(cls, row: RuleSetRow) -> StoredRuleSet:
        return cls(
            row.id,
            row.name,
            row.version,
            row.status,
            RuleSetSpec.from_json(row.body),
            row.created_by,
            row.created_at,
            row.promoted_by,
            row.promoted_at,
        )


class RuleSetService:
    def __init__(self, engine: Engine, clock: Clock, catalog: FeatureCatalog) -> None:
        self.engine = engine
        self.clock = clock
        self.catalog = catalog

    def check(self, spec: RuleSetSpec) -> list[Problem]:
        return validate(spec, self.catalog)

    def save_draft(self, actor: Principal, spec: RuleSetSpec) -> StoredRuleSet:
        """Validate and store ``spec`` as the next version of its name."""
        actor.require_scope("risk:write")
        require_valid(spec, self.catalog)
        with unit_of_work(self.engine) as s:
            latest = s.scalar(
                select(func.max(RuleSetRow.version)).where(RuleSetRow.name == spec.name)
            )
            row = RuleSetRow(
                id=new_id(),
                name=spec.name,
                version=(latest or 0) + 1,
                status="draft",
                body=spec.to_json(),
                created_by=actor.id,
                created_at=self.clock.now(),
            )
            s.add(row)
        return StoredRuleSet.of(row)

    def get(self, actor: Principal, set_id: str) -> StoredRuleSet:
        actor.require_scope("risk:read")
        with unit_of_work(self.engine, write=False) as s:
            row = s.get(RuleSetRow, set_id)
        if row is None:
            raise NotFound(f"rule set {set_id} not found")
        return StoredRuleSet.of(row)

    def list(self, actor: Principal) -> list[StoredRuleSet]:
        actor.require_scope("risk:read")
        with unit_of_work(self.engine, write=False) as s:
            rows = s.scalars(
                select(RuleSetRow).order_by(RuleSetRow.name, RuleSetRow.version.desc())
            ).all()
        return [StoredRuleSet.of(r) for r in rows]

    def promote(self, actor: Principal, set_id: str, *, mode: str = "live") -> StoredRuleSet:
        """Make a stored version the live (``active``) or the ``shadow`` rule set; audited."""
        actor.require_scope("risk:write")
        target = "active" if mode == "live" else "shadow"
        if mode not in ("live", "shadow"):
            raise Conflict("mode must be live or shadow", field="mode")
        now = self.clock.now()
        with unit_of_work(self.engine) as s:
            row = s.get(RuleSetRow, set_id)
            if row is None:
                raise NotFound(f"rule set {set_id} not found")
            if row.status == target:
                raise Conflict(f"{row.name}@v{row.version} is already {target}")
            # Re-validate: the feature catalogue may have changed since the draft was saved.
            require_valid(RuleSetSpec.from_json(row.body), self.catalog)
            previous = s.scalars(select(RuleSetRow).where(RuleSetRow.status == target)).all()
            for p in previous:
                p.status = "retired"
            row.status = target
            row.promoted_by = actor.id
            row.promoted_at = now
            emit(
                s,
                Event(
                    event_type="risk.rule_set_promoted",
                    occurred_at=now,
                    source=SOURCE,
                    subject_id=row.id,
                    payload={
                        "rule_set_id": row.id,
                        "name": row.name,
                        "version": row.version,
                        "previous": ", ".join(f"{p.name}@v{p.version}" for p in previous) or None,
                        "promoted_by": actor.id,
                        "mode": mode,
                    },
                ),
            )
        return StoredRuleSet.of(row)

    def running_ids(self) -> dict[str, str]:
        """Status -> id of the ``active`` and ``shadow`` sets: one small read, so the decision
        maker can poll it every few seconds and recompile only when something changed."""
        with unit_of_work(self.engine, write=False) as s:
            rows = s.execute(
                select(RuleSetRow.id, RuleSetRow.status).where(
                    RuleSetRow.status.in_(("active", "shadow"))
                )
            ).all()
        return {status: rid for rid, status in rows}

    def current(self, status: str) -> StoredRuleSet | None:
        """The active or shadow set (internal: the engine calls it without an actor)."""
        with unit_of_work(self.engine, write=False) as s:
            row = s.scalars(select(RuleSetRow).where(RuleSetRow.status == status)).first()
        return StoredRuleSet.of(row) if row else None

    def compiled(self, status: str) -> CompiledRuleSet | None:
        stored = self.current(status)
        if stored is None:
            return None
        return CompiledRuleSet(stored.spec, self.catalog, version=stored.version, set_id=stored.id)

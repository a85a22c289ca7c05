"""Side-by-side comparison of live and shadow decisions on the same events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import aliased

from finbridge.core.principal import Principal
from finbridge.risk.tables import DecisionRow
from finbridge.store.engine import unit_of_work


@dataclass(frozen=True, slots=True)
class ShadowComparison:
    live_rule_sets: tuple[str, ...]
    shadow_rule_sets: tuple[str, ...]
    events: int
    agree: int
    matrix: dict[str, dict[str, int]]  # live outcome -> shadow outcome -> count
    daily: tuple[dict[str, Any], ...]

    @property
    def agreement(self) -> float:
        return self.agree / self.events if self.events else 1.0

    def to_json(self) -> dict[str, Any]:
        return {
            "live_rule_sets": list(self.live_rule_sets),
            "shadow_rule_sets": list(self.shadow_rule_sets),
            "events": self.events,
            "agree": self.agree,
            "agreement": round(self.agreement, 4),
            "matrix": self.matrix,
            "daily": list(self.daily),
        }


def compare_shadow(
    engine: Engine, actor: Principal, *, since: datetime | None = None, limit: int = 100_000
) -> ShadowComparison:
    actor.require_scope("risk:read")
    live = aliased(DecisionRow)
    shadow = aliased(DecisionRow)
    q = (
        select(live.outcome, shadow.outcome, live.rule_set, shadow.rule_set, live.occurred_at)
        .join(shadow, (shadow.event_id == live.event_id) & (shadow.mode == "shadow"))
        .where(live.mode == "live")
    )
    if since is not None:
        q = q.where(live.occurred_at >= since)
    with unit_of_work(engine, write=False) as s:
        rows = s.execute(q.order_by(live.occurred_at).limit(limit)).all()
    matrix: dict[str, dict[str, int]] = {}
    days: dict[str, dict[str, int]] = {}
    agree = 0
    for lo, so, _, _, at in rows:
        matrix.setdefault(lo, {}).setdefault(so, 0)
        matrix[lo][so] += 1
        day = days.setdefault(at.date().isoformat(), {"live_flagged": 0, "shadow_flagged": 0})
        day["live_flagged"] += lo != "approve"
        day["shadow_flagged"] += so != "approve"
        agree += lo == so
    return ShadowComparison(
        tuple(sorted({r[2] for r in rows})),
        tuple(sorted({r[3] for r in rows})),
        len(rows),
        agree,
        matrix,
        tuple({"day": d, **v} for d, v in sorted(days.items())),
    )

"""Delayed features online: terminal fraud rates from labels older than the feedback delay.

Fraud labels arrive late (an analyst closes a case, a chargeback comes in), so the model's
terminal features only use labels of transactions at least ``delay`` old, as in training
(``models._features.delayed_rates``). Online, the table is rebuilt from this
platform's history (stored requests with a terminal, labels from closed cases) as of "now -
delay" every ``refresh`` and looked up per decision; between rebuilds it is a dict lookup.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import Engine, select

from finbridge.core.clock import Clock
from finbridge.risk.decisions._requests import DecisionRequest
from finbridge.risk.rules._lists import ensure_aware_db
from finbridge.risk.tables import CaseRow, DecisionRow
from finbridge.store.engine import unit_of_work

WINDOWS_DAYS = (1, 7, 30)
NAMES = tuple(
    name
    for w in WINDOWS_DAYS
    for name in (f"terminal_delayed_count_{w}d", f"terminal_delayed_risk_{w}d")
)


def terminal_rates(
    rows: Iterable[tuple[str, datetime, bool]],
    asof: datetime,
    delay: timedelta = timedelta(days=7),
) -> dict[str, dict[str, float]]:
    """Per terminal, counts and fraud rates over ``(asof - delay - w, asof - delay]``."""
    cut = asof - delay
    counts: dict[str, dict[int, list[int]]] = defaultdict(lambda: {w: [0, 0] for w in WINDOWS_DAYS})
    for terminal, at, fraud in rows:
        if at > cut:
            continue
        for w in WINDOWS_DAYS:
            if at > cut - timedelta(days=w):
                c = counts[terminal][w]
                c[0] += 1
                c[1] += int(fraud)
    out: dict[str, dict[str, float]] = {}
    for terminal, per in counts.items():
        feats: dict[str, float] = {}
        for w, (n, f) in per.items():
            feats[f"terminal_delayed_count_{w}d"] = float(n)
            feats[f"terminal_delayed_risk_{w}d"] = f / n if n else 0.0
        out[terminal] = feats
    return out


class TerminalRiskTable:
    """``DelayedFeatures`` for the engine, rebuilt from the platform's labelled history."""

    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        *,
        delay: timedelta = timedelta(days=7),
        refresh: timedelta = timedelta(hours=1),
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.delay = delay
        self.refresh = refresh
        self._table: dict[str, dict[str, float]] = {}
        self._built_at: datetime | None = None
        self._lock = threading.Lock()
        self._rebuilding = False

    def _rebuild_in_background(self) -> None:
        try:
            self.rebuild()
        finally:
            self._rebuilding = False

    def rebuild(self) -> int:
        asof = self.clock.now()
        since = asof - self.delay - timedelta(days=max(WINDOWS_DAYS))
        with unit_of_work(self.engine, write=False) as s:
            rows = s.execute(
                select(DecisionRow.id, DecisionRow.occurred_at, DecisionRow.request).where(
                    DecisionRow.mode == "live",
                    DecisionRow.occurred_at > since,
                    DecisionRow.occurred_at <= asof - self.delay,
                )
            ).all()
            frauds = set(
                s.scalars(select(CaseRow.decision_id).where(CaseRow.label == "fraud")).all()
            )
        history = [
            (str(req["terminal_id"]), ensure_aware_db(at), did in frauds)
            for did, at, req in rows
            if req and req.get("terminal_id")
        ]
        table = terminal_rates(history, asof, self.delay)
        with self._lock:
            self._table, self._built_at = table, asof
        return len(table)

    def lookup(self, request: DecisionRequest) -> dict[str, float]:
        if self._built_at is None:
            self.rebuild()  # the first build is inline: there is nothing to serve yet
        elif self.clock.now() - self._built_at >= self.refresh and not self._rebuilding:
            # Later rebuilds run beside the traffic; decisions keep the previous table meanwhile.
            self._rebuilding = True
            threading.Thread(target=self._rebuild_in_background, daemon=True).start()
        if not request.terminal_id:
            return {}
        return dict(self._table.get(request.terminal_id, ()))

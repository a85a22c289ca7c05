"""Backtests and replays: a rule set (and the model) over history, point in time.

Two sources of history:

* the platform's own event log - every live decision stores its request; :func:`history_frame`
  replays those requests in time order through a fresh in-process velocity store (so each event
  sees only what came before it), with the list entries as they were at that instant, the model
  score recorded at the time, and analysts' labels from closed cases;
* a file of card transactions in the fraud handbook's layout - :func:`replay_file` computes the
  same features column-wise (``models._features``), scores the whole table with one batch call
  and evaluates the rules as Polars expressions (``backtest._vector``).

:func:`backtest_frame` then reports hits, precision against known labels, money caught and
customers disturbed (distinct customers with a flagged event that was not fraud).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
from sqlalchemy import Engine, select

from finbridge.core.errors import ValidationError
from finbridge.risk.backtest._vector import evaluate_frame
from finbridge.risk.decisions._maker import event_features
from finbridge.risk.decisions._requests import parse_request
from finbridge.risk.decisions._velocity import InProcessVelocity, VelocityConfig
from finbridge.risk.models._features import load_handbook, model_frame, prepare
from finbridge.risk.models._fraud import FraudModel
from finbridge.risk.rules._lists import ensure_aware_db
from finbridge.risk.rules._spec import BASE_BOOLEAN, CompiledRuleSet
from finbridge.risk.tables import CaseRow, DecisionRow, ListEntryRow
from finbridge.store.engine import unit_of_work

if TYPE_CHECKING:
    from finbridge.core.principal import Principal
    from finbridge.risk.decisions import DecisionMaker


@dataclass(frozen=True, slots=True)
class RuleHits:
    rule: str
    hits: int
    frauds: int

    @property
    def precision(self) -> float:
        return self.frauds / self.hits if self.hits else 0.0


@dataclass(frozen=True, slots=True)
class BacktestReport:
    rule_set: str
    events: int
    labelled_frauds: int
    flagged: int  # outcome other than approve
    true_positives: int
    precision: float
    recall: float
    money_caught: Decimal  # amount of flagged frauds (major units of the event currency)
    money_fraud_total: Decimal
    customers_disturbed: int  # distinct customers with a flagged legitimate event
    outcomes: dict[str, int]
    rules: tuple[RuleHits, ...]
    daily: tuple[dict[str, Any], ...] = field(default=())
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "rule_set": self.rule_set,
            "events": self.events,
            "labelled_frauds": self.labelled_frauds,
            "flagged": self.flagged,
            "true_positives": self.true_positives,
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "money_caught": str(self.money_caught),
            "money_fraud_total": str(self.money_fraud_total),
            "customers_disturbed": self.customers_disturbed,
            "outcomes": self.outcomes,
            "rules": [
                {"rule": r.rule, "hits": r.hits, "frauds": r.frauds, "precision": r.precision}
                for r in self.rules
            ],
            "daily": list(self.daily),
            "seconds": round(self.seconds, 3),
        }


def rules_ready(frame: pl.DataFrame) -> pl.DataFrame:
    """Give boolean features their rule type (batch frames carry them as 0/1 floats)."""
    casts = [pl.col(c).cast(pl.Boolean) for c in BASE_BOOLEAN if c in frame.columns]
    return frame.with_columns(casts) if casts else frame


def backtest_frame(rs: CompiledRuleSet, frame: pl.DataFrame) -> BacktestReport:
    """Evaluate ``rs`` over ``frame`` (rule features, ``label``, ``amount``, ``customer_id``)."""
    for col in ("label", "amount", "customer_id"):
        if col not in frame.columns:
            raise ValidationError(f"history lacks column {col!r}", field=col)
    started = time.perf_counter()
    res = evaluate_frame(rs, rules_ready(frame))
    label = frame["label"].to_numpy().astype(bool)
    # History amounts arrive as floats (the handbook's Parquet); sum them as integer cents so the
    # reported money is exact Decimal, not an accumulated float.
    cents = np.rint(frame["amount"].to_numpy().astype(np.float64) * 100).astype(np.int64)
    flagged = res["outcome"].to_numpy() != "approve"
    tp = flagged & label
    disturbed = frame.filter(pl.Series(flagged & ~label))["customer_id"].n_unique()
    outcomes = dict(zip(*np.unique(res["outcome"].to_numpy(), return_counts=True), strict=True))
    hits = tuple(
        RuleHits(name[5:], int(res[name].sum()), int((res[name].to_numpy() & label).sum()))
        for name in res.columns
        if name.startswith("rule_")
    )
    daily: tuple[dict[str, Any], ...] = ()
    if "day" in frame.columns:
        per_day = (
            pl.DataFrame({"day": frame["day"], "flagged": flagged, "caught": tp, "fraud": label})
            .group_by("day")
            .agg(pl.col("flagged").sum(), pl.col("caught").sum(), pl.col("fraud").sum())
            .sort("day")
        )
        daily = tuple(
            {"day": str(r["day"]), "flagged": r["flagged"], "caught": r["caught"],
             "fraud": r["fraud"]}
            for r in per_day.iter_rows(named=True)
        )  # fmt: skip
    return BacktestReport(
        rule_set=rs.label,
        events=frame.height,
        labelled_frauds=int(label.sum()),
        flagged=int(flagged.sum()),
        true_positives=int(tp.sum()),
        precision=float(tp.sum() / flagged.sum()) if flagged.sum() else 0.0,
        recall=float(tp.sum() / label.sum()) if label.sum() else 0.0,
        money_caught=Decimal(int(cents[tp].sum())).scaleb(-2),
        money_fraud_total=Decimal(int(cents[label].sum())).scaleb(-2),
        customers_disturbed=int(disturbed),
        outcomes={str(k): int(v) for k, v in outcomes.items()},
        rules=hits,
        daily=daily,
        seconds=time.perf_counter() - started,
    )


def history_frame(
    engine: Engine,
    config: VelocityConfig,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    timezone: str = "Asia/Shanghai",
    limit: int = 200_000,
) -> pl.DataFrame:
    """Replay stored live decisions' requests point in time; one row of features per event."""
    q = select(DecisionRow).where(DecisionRow.mode == "live", DecisionRow.request.is_not(None))
    if since is not None:
        q = q.where(DecisionRow.occurred_at >= since)
    if until is not None:
        q = q.where(DecisionRow.occurred_at < until)
    with unit_of_work(engine, write=False) as s:
        rows = s.scalars(q.order_by(DecisionRow.occurred_at, DecisionRow.id).limit(limit)).all()
        labels = dict(
            s.execute(
                select(CaseRow.decision_id, CaseRow.label).where(CaseRow.label.is_not(None))
            ).all()
        )
        entries = s.scalars(select(ListEntryRow)).all()
    velocity = InProcessVelocity(config)
    tz = ZoneInfo(timezone)
    records: list[dict[str, Any]] = []
    for row in rows:
        req = parse_request(row.request or {})
        features, _, _ = event_features(req, row.event_id, velocity, tz)
        at = req.occurred_at
        keys = req.entity_keys()
        active = [
            e.list_kind
            for e in entries
            if keys.get(e.entity_type) == e.value
            and ensure_aware_db(e.created_at) <= at
            and (e.expires_at is None or ensure_aware_db(e.expires_at) > at)
            and (e.removed_at is None or ensure_aware_db(e.removed_at) > at)
        ]
        features["on_blocklist"] = "block" in active
        features["on_watchlist"] = "watch" in active
        features["on_allowlist"] = "allow" in active
        features["ml_score"] = row.ml_score or 0.0
        features["customer_id"] = req.customer_id
        features["label"] = 1 if labels.get(row.id) == "fraud" else 0
        features["day"] = at.date().isoformat()
        records.append(features)
    return pl.DataFrame(records, infer_schema_length=None) if records else pl.DataFrame()


@dataclass(frozen=True, slots=True)
class ReplayResult:
    events: int
    seconds_features: float
    seconds_score: float
    seconds_rules: float
    report: BacktestReport

    @property
    def seconds(self) -> float:
        return self.seconds_features + self.seconds_score + self.seconds_rules

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


def replay_handbook(
    frame: pl.DataFrame, rs: CompiledRuleSet, model: FraudModel | None
) -> ReplayResult:
    """Features, score and rules for every transaction of a handbook-layout frame."""
    t0 = time.perf_counter()
    feats = model_frame(frame if "ts_ms" in frame.columns else prepare(frame))
    t1 = time.perf_counter()
    scores = model.score_frame(feats) if model is not None else np.zeros(feats.height)
    t2 = time.perf_counter()
    feats = feats.with_columns(
        pl.Series("ml_score", scores),
        pl.lit("payment").alias("event_type"),
        pl.col("customer").alias("customer_id"),
        pl.col("ts").dt.date().alias("day"),
    )
    report = backtest_frame(rs, feats)
    t3 = time.perf_counter()
    return ReplayResult(feats.height, t1 - t0, t2 - t1, t3 - t2, report)


def replay_file(path: str, rs: CompiledRuleSet, model: FraudModel | None) -> ReplayResult:
    if not path.endswith(".parquet"):
        raise ValidationError("replay reads a Parquet file in the handbook layout", field="file")
    return replay_handbook(load_handbook(path), rs, model)


def backtest_stored(
    risk: DecisionMaker, actor: Principal, set_id: str, *, since: datetime | None = None
) -> dict[str, Any]:
    """Replay this platform's history for the live rule set and a stored draft, side by side."""
    actor.require_scope("risk:read")
    stored = risk.rule_sets.get(actor, set_id)
    draft = CompiledRuleSet(stored.spec, risk.catalog, version=stored.version, set_id=stored.id)
    return backtest_history(risk, draft, since=since)


def backtest_history(
    risk: DecisionMaker, draft: CompiledRuleSet, *, since: datetime | None = None
) -> dict[str, Any]:
    """The live rule set and ``draft`` replayed on the stored decisions, as JSON reports."""
    risk.refresh_rules(force=True)
    frame = history_frame(
        risk.engine, risk.velocity.config, since=since, timezone=risk.options.business_timezone
    )
    if frame.is_empty():
        raise ValidationError("there is no stored decision history to replay yet", field="since")
    return {
        "live": backtest_frame(risk.live_rule_set, frame).to_json(),
        "draft": backtest_frame(draft, frame).to_json(),
    }

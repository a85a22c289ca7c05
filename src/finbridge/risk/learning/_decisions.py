"""Labelled history from the platform's own live decisions: the retraining job's training set
without a file.

Features: every live decision stores its request; :meth:`DecisionHistory.publish` replays those
requests in time order through a fresh in-process velocity store (``decisions.event_features``,
the one definition the decision maker uses, so each payment sees only what came before it) and
the terminal delayed rates from the labels known at the start of each payment's hour (the online
table is rebuilt hourly; here only verdicts already closed then count, so nothing later leaks
in). Each spend decision's model features are materialised once into the feature store's
``fraud_transaction`` view, stamped at the payment (entity: the decision's ``event_id``).
What the replay cannot see: spend the stream's ``risk-velocity`` consumer counted without a
decision (those events have no stored request).

Labels (:meth:`DecisionHistory.labels`), as known at ``as_of``, each with the instant it became
known (``label_time``): a decision's newest verdict among its cases closed by then (an analyst's
fraud / not fraud, or a chargeback, which is a fraud from its arrival on); a decision with a case
still open is pending and left out; a payment nobody reviewed or disputed counts as genuine once
the feedback delay has passed (``label_time`` = payment + delay: the handbook's convention, and
the card schemes' "no dispute is a good payment" until one arrives). The store's point-in-time
join then gives each verdict the features stamped strictly before it.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import polars as pl
from sqlalchemy import Engine, select

from finbridge.core.errors import ValidationError
from finbridge.risk.decisions._delayed import WINDOWS_DAYS, terminal_rates
from finbridge.risk.decisions._maker import event_features
from finbridge.risk.decisions._requests import parse_request
from finbridge.risk.decisions._velocity import InProcessVelocity, VelocityConfig
from finbridge.risk.learning._history import FeatureStoreHistory
from finbridge.risk.rules._lists import ensure_aware_db
from finbridge.risk.tables import CaseRow, DecisionRow
from finbridge.store.engine import unit_of_work

if TYPE_CHECKING:
    from finbridge.lake.featurestore import FeatureStore, Materialisation

VERDICTS = ("fraud", "not_fraud")


def _naive(when: datetime) -> datetime:
    return ensure_aware_db(when).astimezone(UTC).replace(tzinfo=None)


class DecisionHistory:
    """``LabelledHistory`` over the platform's live decisions and their verdicts."""

    def __init__(
        self,
        engine: Engine,
        store: FeatureStore,
        *,
        config: VelocityConfig,
        timezone: str,
        label_delay_days: int = 7,
    ) -> None:
        if not 0 <= label_delay_days <= 365:
            raise ValidationError("label_delay_days must be 0-365", field="label_delay_days")
        from finbridge.lake.featurestore import FRAUD_VIEW

        self.engine = engine
        self.store = store
        self.config = config
        self.tz = ZoneInfo(timezone)
        self.delay = timedelta(days=label_delay_days)
        self.view = store.registry.get(FRAUD_VIEW)

    # -- features ------------------------------------------------------------------------------
    def features(self, until: datetime) -> pl.DataFrame:
        """Each live spend decision before ``until`` with its model features as of its instant:
        ``transaction_id`` (the event id), ``occurred_at`` (UTC), the view's features."""
        until = ensure_aware_db(until)
        with unit_of_work(self.engine, write=False) as s:
            rows = s.execute(
                select(
                    DecisionRow.event_id, DecisionRow.occurred_at, DecisionRow.amount_minor,
                    DecisionRow.request,
                )
                .where(DecisionRow.mode == "live", DecisionRow.request.is_not(None),
                       DecisionRow.occurred_at < until)
                .order_by(DecisionRow.occurred_at, DecisionRow.id)
            ).all()  # fmt: skip
            verdicts = s.execute(
                select(CaseRow.event_id, CaseRow.closed_at, CaseRow.label).where(
                    CaseRow.closed_at.is_not(None), CaseRow.label.in_(VERDICTS)
                )
            ).all()
        rated = _DelayedRates(
            [(str(r[3]["terminal_id"]), ensure_aware_db(r[1]), str(r[0])) for r in rows
             if r[3].get("terminal_id")],
            [(str(v[0]), ensure_aware_db(v[1]), v[2] == "fraud") for v in verdicts
             if v[0] and v[1] is not None],
            self.delay,
        )  # fmt: skip
        velocity = InProcessVelocity(self.config)
        names = self.view.feature_names
        out: dict[str, list[object]] = {"transaction_id": [], "occurred_at": []}
        out |= {name: [] for name in names}
        for event_id, occurred_at, amount_minor, request in rows:
            req = parse_request(request)
            features, _, _ = event_features(req, event_id, velocity, self.tz)
            if amount_minor <= 0:  # logins and changes feed the windows; only spend is scored
                continue
            if req.terminal_id:
                features.update(rated.at(req.terminal_id, req.occurred_at))
            out["transaction_id"].append(event_id)
            out["occurred_at"].append(ensure_aware_db(occurred_at).astimezone(UTC))
            for name in names:  # absent means 0, as the live model scores it
                out[name].append(float(features.get(name, 0.0) or 0.0))
        schema: dict[str, pl.DataType] = {
            "transaction_id": pl.Utf8(),
            "occurred_at": pl.Datetime("us", "UTC"),
        }
        schema |= {name: pl.Float64() for name in names}
        return pl.DataFrame(out, schema=schema)

    def publish(self, *, until: datetime) -> Materialisation:
        """Materialise each spend decision's features before ``until`` into the store's fraud
        view (quality-checked; the snapshot replaces the last one)."""
        import ibis

        frame = self.features(until)
        table = ibis.duckdb.connect().create_table("decisions", frame.to_arrow())
        return self.store.materialize(self.view.name, table, until=ensure_aware_db(until))

    # -- labels --------------------------------------------------------------------------------
    def labels(self, as_of: datetime) -> pl.DataFrame:
        """Each spend decision's verdict known at ``as_of``, with ``label_time`` (naive UTC,
        like the handbook) and :data:`~finbridge.risk.learning.LABEL_COLUMNS`."""
        as_of = ensure_aware_db(as_of)
        with unit_of_work(self.engine, write=False) as s:
            decisions = s.execute(
                select(DecisionRow.event_id, DecisionRow.occurred_at, DecisionRow.customer_id)
                .where(DecisionRow.mode == "live", DecisionRow.amount_minor > 0,
                       DecisionRow.occurred_at < as_of)
                .order_by(DecisionRow.occurred_at, DecisionRow.id)
            ).all()  # fmt: skip
            cases = s.execute(
                select(CaseRow.event_id, CaseRow.closed_at, CaseRow.label)
                .where(CaseRow.event_id.is_not(None), CaseRow.opened_at <= as_of)
                .order_by(CaseRow.closed_at)
            ).all()  # fmt: skip
        newest: dict[str, tuple[datetime, bool]] = {}
        pending: set[str] = set()
        for event_id, closed_at, label in cases:
            if event_id is None:
                continue
            closed = ensure_aware_db(closed_at) if closed_at is not None else None
            if closed is None or closed > as_of:
                pending.add(event_id)  # under review at as_of
            elif label in VERDICTS:
                newest[event_id] = (closed, label == "fraud")  # later verdicts replace
        rows: dict[str, list[object]] = {k: [] for k in
                                         ("transaction_id", "label_time", "TX_DATETIME",
                                          "TX_TIME_DAYS", "CUSTOMER_ID", "TX_FRAUD")}  # fmt: skip
        for event_id, occurred_at, customer_id in decisions:
            at = ensure_aware_db(occurred_at)
            if event_id in newest:
                known, fraud = newest[event_id]
            elif event_id in pending or at + self.delay > as_of:
                continue  # not known yet
            else:
                known, fraud = at + self.delay, False
            rows["transaction_id"].append(event_id)
            rows["label_time"].append(_naive(known))
            rows["TX_DATETIME"].append(_naive(at))
            rows["TX_TIME_DAYS"].append((at.astimezone(UTC).date() - _EPOCH).days)
            rows["CUSTOMER_ID"].append(customer_id or event_id)
            rows["TX_FRAUD"].append(int(fraud))
        return pl.DataFrame(
            rows,
            schema={"transaction_id": pl.Utf8, "label_time": pl.Datetime("us"),
                    "TX_DATETIME": pl.Datetime("us"), "TX_TIME_DAYS": pl.Int64,
                    "CUSTOMER_ID": pl.Utf8, "TX_FRAUD": pl.Int64},
        )  # fmt: skip

    def labelled(self, as_of: datetime, since: datetime) -> pl.DataFrame:
        """The verdicts known at ``as_of`` on payments since ``since``, joined point in time
        with the published features (``publish`` first: a verdict without features before it
        is refused)."""
        # The handbook's clock, which the retraining windows use, is naive UTC.
        joined = FeatureStoreHistory(self.store, self.labels(as_of))
        return joined.labelled(as_of, _naive(since))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC).date()


class _DelayedRates:
    """The terminal delayed rates a payment would have seen: the online table's hourly
    rebuild, counting only verdicts closed by the hour's start (fraud rates over payments at
    least one feedback delay old, ``decisions._delayed.terminal_rates``)."""

    def __init__(
        self,
        payments: list[tuple[str, datetime, str]],
        verdicts: list[tuple[str, datetime, bool]],
        delay: timedelta,
    ) -> None:
        self.payments = payments  # in time order (the replay's)
        self.times = [at for _, at, _ in payments]
        self.delay = delay
        self.frauds: dict[str, list[datetime]] = defaultdict(list)
        for event_id, closed_at, fraud in verdicts:
            if fraud:
                self.frauds[event_id].append(closed_at)
        self._tables: dict[datetime, dict[str, dict[str, float]]] = {}

    def at(self, terminal: str, when: datetime) -> dict[str, float]:
        hour = when.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        table = self._tables.get(hour)
        if table is None:
            cut = hour - self.delay
            first = bisect_right(self.times, cut - timedelta(days=max(WINDOWS_DAYS)))
            last = bisect_right(self.times, cut)
            rows = [
                (t, at, any(c <= hour for c in self.frauds.get(e, ())))
                for t, at, e in self.payments[first:last]
            ]
            table = self._tables[hour] = terminal_rates(rows, hour, self.delay)
        return dict(table.get(terminal, ()))

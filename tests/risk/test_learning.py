"""One full turn of the learning loop on the Fraud Detection Handbook's simulated payments.

The bank launched with a model trained on its first two weeks. At the start of week k+2 the
labels of weeks up to k are known (7-day feedback delay): the retraining job trains a
challenger on them, judges it beside the champion on week k (the newest labelled week), and
promotes it only past the margin. The promoted model must then catch more fraud than the old
champion in week k+2, traffic neither model saw: AP and card precision@10 per day, the test
fails if it does not. The training set comes from the feature store: each payment's features
materialised once as of the turn, the verdicts known by then joined with them point in time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from sqlalchemy import Engine, select

from finbridge.core import ManualClock, Principal, PrincipalKind
from finbridge.core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from finbridge.core.settings import RiskSettings
from finbridge.lake.featurestore import (
    FRAUD_VIEW,
    FeatureRegistry,
    FeatureStore,
    fraud_transaction_view,
)
from finbridge.lake.tables import OutboxRow
from finbridge.risk import RiskService
from finbridge.risk.decisions import DecisionMaker
from finbridge.risk.learning import FeatureStoreHistory, HandbookHistory, RetrainPolicy, judge
from finbridge.risk.models import MODEL_FEATURES, FraudModel
from finbridge.store.engine import unit_of_work

SLICE = Path(__file__).parents[2] / "src/finbridge/datasets/fraud/fdh_300_customers.parquet"
START = datetime(2018, 4, 1)  # the handbook's clock is naive
K = 7  # week k: the champion has two weeks of labels, the challenger nine
AS_OF = START + timedelta(weeks=K + 2)  # the turn: week k's labels are known


@pytest.fixture(scope="module")
def history() -> HandbookHistory:
    # Ten weeks of 300 customers (about 40,000 payments): features computed once per module.
    return HandbookHistory.from_file(SLICE, until=START + timedelta(weeks=K + 3))


@pytest.fixture(scope="module")
def stored(
    history: HandbookHistory, tmp_path_factory: pytest.TempPathFactory
) -> FeatureStoreHistory:
    # The payments' features as the store holds them at the turn: nothing at or after it.
    registry = FeatureRegistry([fraud_transaction_view(MODEL_FEATURES)])
    clock = ManualClock(AS_OF.replace(tzinfo=UTC))
    store = FeatureStore(registry, tmp_path_factory.mktemp("features"), clock=clock)
    history.publish(store, until=AS_OF)
    return FeatureStoreHistory(store, history.labels())


@pytest.fixture(scope="module")
def launch_model(history: HandbookHistory) -> FraudModel:
    return FraudModel.fit(history.window(START, START + timedelta(weeks=2)), rounds=100,
                          version="launch-2w")  # fmt: skip


def _service(engine: Engine, clock: ManualClock, maker: DecisionMaker, tmp: Path) -> RiskService:
    return RiskService(engine, clock, RiskSettings(), data_dir=tmp, decisions=maker)


def test_week_k_labels_train_a_challenger_that_catches_more_fraud_in_week_k_plus_2(
    history: HandbookHistory, stored: FeatureStoreHistory, launch_model: FraudModel,
    sqlite_risk: DecisionMaker, sqlite_engine: Engine, clock: ManualClock, analyst: Principal,
    tmp_path: Path,
) -> None:  # fmt: skip
    sqlite_risk.use_model(launch_model)
    service = _service(sqlite_engine, clock, sqlite_risk, tmp_path)
    as_of = AS_OF

    result = service.retrain(analyst, stored, as_of=as_of, policy=RetrainPolicy(margin=0.01))

    # Judged on week k, the newest labelled week, which the challenger did not train on.
    assert result.eval_window == (START + timedelta(weeks=K), START + timedelta(weeks=K + 1))
    assert result.train_window[1] == result.eval_window[0]
    assert result.champion is not None and result.champion.version == "launch-2w"
    assert result.promote, result.reason
    live = sqlite_risk.model
    assert isinstance(live, FraudModel) and live.version == result.challenger.version
    assert sqlite_risk.shadow_model is None

    # Week k+2: traffic after the decision; labels the loop did not have.
    week = history.window(as_of, as_of + timedelta(weeks=1))
    new, old = judge(live, week), judge(launch_model, week)
    assert new.average_precision > old.average_precision
    assert new.card_precision > old.card_precision

    # Audited: the evaluation, then the promotion; registered in the file registry.
    with unit_of_work(sqlite_engine, write=False) as s:
        types = s.scalars(select(OutboxRow.event_type).order_by(OutboxRow.seq)).all()
    assert types[-3:] == ["risk.shadow_model_started", "risk.retrain_evaluated",
                          "risk.model_promoted"]  # fmt: skip
    assert result.challenger.version in {m.version for m in service.registered_models(analyst)}

    # One-step rollback: the champion decides again; a second rollback has nothing to undo.
    assert service.rollback_model(analyst) == "launch-2w"
    assert sqlite_risk.model is launch_model
    with pytest.raises(Conflict, match="no promotion"):
        service.rollback_model(analyst)


def test_a_challenger_short_of_the_margin_stays_in_shadow(
    stored: FeatureStoreHistory, launch_model: FraudModel, risk: DecisionMaker, engine: Engine,
    clock: ManualClock, analyst: Principal, tmp_path: Path,
) -> None:  # fmt: skip
    risk.use_model(launch_model)
    service = _service(engine, clock, risk, tmp_path)
    as_of = AS_OF
    result = service.retrain(analyst, stored, as_of=as_of, policy=RetrainPolicy(margin=0.5))
    assert not result.promote and "margin 0.5000" in result.reason
    assert risk.model is launch_model
    assert risk.shadow_model is not None
    assert risk.shadow_model.version == result.challenger.version

    viewer = Principal(PrincipalKind.OPERATOR, "viewer", frozenset({"risk:read"}))
    with pytest.raises(PermissionDenied):
        service.retrain(viewer, stored, as_of=as_of)
    with pytest.raises(ValidationError, match="margin"):
        RetrainPolicy(margin=2.0)
    # Before any label is known there is nothing to learn from: a clear error, nothing stored.
    with pytest.raises(ValidationError, match="labelled frauds"):
        service.retrain(analyst, stored, as_of=START + timedelta(days=10))


def test_the_training_set_is_the_stores_materialisation_joined_as_of_each_verdict(
    history: HandbookHistory, stored: FeatureStoreHistory
) -> None:
    got = stored.labelled(AS_OF, since=START)
    snapshot = pl.from_arrow(stored.store.snapshot(FRAUD_VIEW))
    assert isinstance(snapshot, pl.DataFrame)
    # The store holds nothing stamped at or after the turn; the training set has every verdict
    # known by then, in order, and none known later.
    assert snapshot["event_time"].max() < AS_OF.replace(tzinfo=UTC)  # type: ignore[operator]
    known = history.labels().filter(pl.col("label_time") <= AS_OF)
    assert got["transaction_id"].to_list() == known["transaction_id"].to_list()
    assert got.height > 30_000 and 0 < got["TX_FRAUD"].sum() < got.height

    # Each verdict carries its payment's row of the materialisation, stamped before it.
    rows = got.join(snapshot, on="transaction_id", how="left", suffix="_stored")
    assert (rows["event_time"] < rows["label_time"]).all()
    for name in MODEL_FEATURES:
        assert np.array_equal(rows[name].to_numpy(), rows[f"{name}_stored"].to_numpy(), True), name
    # ... which is what the risk engine's own point-in-time path computes (no drift on the way).
    direct = history.labelled(AS_OF, since=START)
    assert got.select(MODEL_FEATURES).equals(direct.select(MODEL_FEATURES))


def test_a_verdict_without_features_before_it_is_refused_never_zero_filled(
    history: HandbookHistory, stored: FeatureStoreHistory
) -> None:
    # A day past the snapshot's as-of: verdicts on payments the store has not materialised.
    with pytest.raises(ValidationError, match="have no features in fraud_transaction:v1"):
        stored.labelled(AS_OF + timedelta(days=8), since=AS_OF - timedelta(days=2))
    # The planted leak: a verdict known at its payment's very instant may not see that row.
    labels = history.labels().head(50)
    same_instant = labels.with_columns(pl.col("TX_DATETIME").alias("label_time"))
    with pytest.raises(ValidationError, match="50 of 50 verdicts"):
        FeatureStoreHistory(stored.store, same_instant).labelled(AS_OF, since=START)
    with pytest.raises(ValidationError, match="'label_time'"):
        FeatureStoreHistory(stored.store, labels.drop("label_time"))


def test_a_chargeback_is_a_fraud_label_known_from_its_arrival(
    risk: DecisionMaker, engine: Engine, clock: ManualClock, analyst: Principal,
    system: Principal, tmp_path: Path,
) -> None:  # fmt: skip
    from finbridge.lake.monitoring import MonitorStore

    from .conftest import payment, tick
    from .registry_support import tiny_model

    risk.use_model(tiny_model("tiny-live"))
    service = _service(engine, clock, risk, tmp_path)
    store = MonitorStore(engine, clock)
    clock.set(datetime(2026, 11, 2, 1, 0, tzinfo=UTC))
    day1 = clock.now().date()
    decided = []
    for i in range(30):  # amounts on both sides of the tiny model's line
        decided.append(risk.decide(system, payment(clock, customer_id=f"c{i}",
                                                   amount=f"{100 + 15 * i}.00")))  # fmt: skip
        tick(clock, 60)
    cases = service.cases.queue(analyst, limit=100)
    assert cases, "the large payments go to review"
    for case in cases:  # the analysts release every reviewed payment: no fraud known yet
        service.cases.close(analyst, case.id, "release")
    released = cases[0].event_id
    assert released is not None

    # Day 2: the card scheme's dispute arrives for a released payment, and for an unreviewed one.
    clock.set(datetime(2026, 11, 3, 9, 0, tzinfo=UTC))
    unreviewed = next(d.event_id for d in decided if d.event_id not in {c.event_id for c in cases})
    first = service.cases.chargeback(analyst, released, reason_code="10.4")
    service.cases.chargeback(analyst, unreviewed, reason_code="10.4", note="card not present")
    assert (first.origin, first.label, first.status) == ("chargeback", "fraud", "closed")
    assert service.cases.chargeback(analyst, released, reason_code="10.4").id == first.id
    with unit_of_work(engine, write=False) as s:
        sent = s.scalars(
            select(OutboxRow.payload).where(OutboxRow.event_type == "risk.chargeback")
        ).all()
    assert sorted(p["event_id"] for p in sent) == sorted([released, unreviewed])  # once each

    # Known at the end of day 1: the releases only. By day 2's end: two frauds, the released
    # payment counted once with its newer verdict.
    (before,) = service.monitor(analyst, store, day1, label_days=5)
    assert before.performance["n_labelled"] == len(cases)
    assert before.performance["positives"] == 0
    (after,) = service.monitor(analyst, store, day1 + timedelta(days=1), label_days=5)
    assert after.performance["n_labelled"] == len(cases) + 1
    assert after.performance["positives"] == 2 and after.performance["status"] == "ok"

    with pytest.raises(NotFound, match="no live decision"):
        service.cases.chargeback(analyst, "evt-unknown", reason_code="10.4")
    with pytest.raises(ValidationError, match="reason code"):
        service.cases.chargeback(analyst, released, reason_code="")
    viewer = Principal(PrincipalKind.OPERATOR, "viewer", frozenset({"risk:read"}))
    with pytest.raises(PermissionDenied):
        service.cases.chargeback(viewer, released, reason_code="10.4")


def test_a_promotion_in_one_process_is_what_every_process_scores_with(
    risk: DecisionMaker, engine: Engine, clock: ManualClock, analyst: Principal,
    system: Principal, tmp_path: Path,
) -> None:  # fmt: skip
    from finbridge.risk.decisions import DecisionOptions
    from finbridge.risk.models import RegistryChampion, register_model, write_champion

    from .conftest import make_maker, payment, tick
    from .registry_support import tiny_model

    # Two serving processes: one database, one model registry, each its own decision maker.
    here = _service(engine, clock, risk, tmp_path)
    there = make_maker(engine, clock, options=DecisionOptions(rules_refresh_s=0.0))
    for maker in (risk, there):
        maker.use_model(tiny_model("launch"))
        maker.follow_champion(RegistryChampion(here.registry_dir))
    register_model(here.registry_dir, tiny_model("challenger", seed=5), "challenger")
    here.start_shadow_model(analyst, "challenger")
    assert here.promote_shadow_model(analyst) == "challenger"

    decided = there.decide(system, payment(clock, customer_id="c1", amount="450.00"))
    assert decided.model_version == "challenger"  # the other process's next decision
    # The replaced model went into the registry, so every process can roll back to it.
    assert {m.version for m in here.registered_models(analyst)} == {"launch", "challenger"}

    tick(clock)
    assert here.rollback_model(analyst) == "launch"
    again = there.decide(system, payment(clock, customer_id="c2", amount="450.00"))
    assert again.model_version == "launch"

    # A pointer at a version that cannot be loaded keeps the model deciding, said once.
    write_champion(here.registry_dir, "missing-version")
    tick(clock)
    kept = there.decide(system, payment(clock, customer_id="c3", amount="450.00"))
    assert kept.model_version == "launch"


def test_a_shadow_a_promotion_and_a_rollback_reach_another_serving_process(
    sqlite_risk: DecisionMaker, sqlite_engine: Engine, clock: ManualClock, analyst: Principal,
    system: Principal, tmp_path: Path,
) -> None:  # fmt: skip
    import json
    import subprocess
    import sys

    from finbridge.risk.decisions import DecisionOptions
    from finbridge.risk.models import RegistryChampion, register_model, write_champion

    from .conftest import make_maker, payment, tick
    from .registry_support import tiny_model

    # Process A (here): a risk service over its own decision maker. Process B: another Python
    # process over the same SQLite file and model registry (tests/risk/serving_process.py).
    here = _service(sqlite_engine, clock, sqlite_risk, tmp_path)
    register_model(here.registry_dir, tiny_model("launch"), "launch")
    register_model(here.registry_dir, tiny_model("challenger", seed=5), "challenger")
    write_champion(here.registry_dir, "launch")
    mine = make_maker(sqlite_engine, clock, options=DecisionOptions(rules_refresh_s=0.0))
    mine.follow_champion(RegistryChampion(here.registry_dir))
    here = RiskService(sqlite_engine, clock, RiskSettings(), data_dir=tmp_path, decisions=mine)
    script = Path(__file__).with_name("serving_process.py")
    other = subprocess.Popen(
        [sys.executable, str(script), str(sqlite_engine.url), str(tmp_path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert other.stdin is not None and other.stdout is not None

    def ask(command: dict[str, object]) -> dict[str, object]:
        assert other.stdin is not None and other.stdout is not None
        tick(clock)
        other.stdin.write(json.dumps({**command, "now": clock.now().isoformat()}) + "\n")
        other.stdin.flush()
        answer: dict[str, object] = json.loads(other.stdout.readline())
        return answer

    def decide_there(customer: str) -> dict[str, object]:
        return ask({"decide": payment(clock, customer_id=customer, amount="450.00")})

    try:
        assert json.loads(other.stdout.readline()) == {"ready": True}
        assert decide_there("c1") == {"live": "launch", "shadow": None}

        # A shadow started here is scored there from its next decision; stopped, it is gone.
        here.start_shadow_model(analyst, "challenger")
        assert decide_there("c2") == {"live": "launch", "shadow": "challenger"}
        assert here.stop_shadow_model(analyst) == "challenger"
        assert decide_there("c3") == {"live": "launch", "shadow": None}

        # Promoted here: live there, and out of the shadow slot everywhere.
        here.start_shadow_model(analyst, "challenger")
        assert here.promote_shadow_model(analyst) == "challenger"
        assert decide_there("c4") == {"live": "challenger", "shadow": None}

        # Rolled back there: this process decides with the old champion again, and the one
        # step is spent in both processes.
        assert ask({"rollback": True}) == {"rolled_back_to": "launch"}
        tick(clock)
        back = mine.decide(system, payment(clock, customer_id="c5", amount="450.00"))
        assert back.model_version == "launch"
        with pytest.raises(Conflict, match="no promotion to roll back"):
            here.rollback_model(analyst)
        assert ask({"rollback": True}) == {"error": "no promotion to roll back"}

        # A shadow pointer at a version that cannot be loaded keeps the shadow slot as it was.
        (here.registry_dir / "SHADOW").write_text("missing-version")
        assert decide_there("c6") == {"live": "launch", "shadow": None}
    finally:
        other.stdin.close()
        other.wait(timeout=30)

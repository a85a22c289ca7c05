"""The feature store: point-in-time training sets (with planted leaks), refused definitions,
online/offline parity (in-process and Redis), bad input, and the same expressions on Spark."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from finbridge.core.clock import ManualClock
from finbridge.core.errors import Conflict, NotFound, ValidationError
from finbridge.lake import Event, EventLake
from finbridge.lake.features import duckdb_events
from finbridge.lake.featurestore import (
    Feature,
    FeatureRegistry,
    FeatureStore,
    FeatureView,
    FutureReadError,
    MemoryOnlineStore,
    RedisOnlineStore,
    card_spend_view,
    feature_frame,
    number_labels,
    point_in_time_join,
    spend_profile_view,
    trailing,
)

from .conftest import T0

H = timedelta(hours=1)
D = timedelta(days=1)
SLICE = Path(__file__).parents[2] / "src/finbridge/datasets/fraud/fdh_300_customers.parquet"


@pytest.fixture
def history(lake: EventLake, card_event: Callable[..., Event]) -> EventLake:
    lake.append(
        [
            card_event("a1", "alice", "10.00", T0 - 2 * H, "CNY"),
            card_event("a2", "alice", "5.50", T0 - H, "CNY"),
            card_event("a3", "alice", "40.00", T0 - 3 * D, "CNY"),
            card_event("a4", "alice", "1.00", T0 - H, "CNY", kind="refund"),  # not spend
            card_event("a5", "alice", "9.00", T0 - H, "USD"),  # another currency
            # The planted leaks: known only at or after the label time.
            card_event("x1", "alice", "777.00", T0, "CNY"),
            card_event("x2", "alice", "999.00", T0 + timedelta(seconds=1), "CNY"),
            card_event("b1", "bob", "3.00", T0 - 40 * D, "CNY"),  # older than the 30-day TTL
            card_event("c1", "carol", "2.00", T0 - 5 * D, "CNY"),
        ],
        batch="history",
    )
    return lake


def make_store(
    tmp_path: Path, online: Any = None, views: list[FeatureView] | None = None
) -> FeatureStore:
    registry = FeatureRegistry(views or [card_spend_view("CNY")])
    return FeatureStore(
        registry, tmp_path / "features", online=online, clock=ManualClock(T0 + 2 * D)
    )


def labels_at(*rows: tuple[str, datetime, int]) -> pa.Table:
    return pa.table(
        {
            "customer_id": [r[0] for r in rows],
            "label_time": pa.array([r[1] for r in rows], pa.timestamp("us", tz="UTC")),
            "is_fraud": [r[2] for r in rows],
        }
    )


def test_training_set_never_sees_a_value_stamped_at_or_after_the_label(
    history: EventLake, tmp_path: Path
) -> None:
    store = make_store(tmp_path)
    done = store.materialize("card_spend", duckdb_events(history))
    assert (
        done.rows == 7 and done.entities == 3
    )  # x1, x2 are in the snapshot: the join must skip them
    labels = labels_at(
        ("alice", T0, 1),  # x1 at T0 exactly and x2 after: neither may appear
        ("carol", T0, 0),
        ("bob", T0, 0),  # only a row older than the TTL: nulls
        ("alice", T0 + 2 * D, 0),  # now x1 and x2 are known
        ("dave", T0, 0),  # unknown entity in a training set: nulls, row kept
    )
    got = store.training_set(labels, ["card_spend"]).to_pylist()
    assert [r["customer_id"] for r in got] == ["alice", "carol", "bob", "alice", "dave"]
    alice = got[0]
    assert alice["spend_count_1d"] == 2 and alice["spend_sum_1d"] == Decimal("15.5000")
    assert alice["spend_count_7d"] == 3 and alice["spend_max_30d"] == Decimal("40.0000")
    # Values as of carol's last event (5 days before): her 1-day count then was 1 (as in Feast).
    assert got[1]["spend_count_7d"] == 1 and got[1]["spend_count_1d"] == 1
    assert got[2]["spend_count_30d"] is None and got[4]["spend_sum_7d"] is None
    assert got[3]["spend_max_1d"] == Decimal("999.0000")
    assert got[3]["spend_count_7d"] == 5  # x1, x2, a1, a2, a3


def test_a_definition_that_reads_the_future_is_refused_naming_the_feature(
    history: EventLake, tmp_path: Path
) -> None:
    def ahead(rows: ibis.Table) -> Any:
        w = ibis.range_window(
            preceding=ibis.interval(days=1),
            following=ibis.interval(hours=1),
            group_by=rows.customer_id,
            order_by=rows.event_time,
        )
        return rows.amount.sum().over(w)

    base = card_spend_view("CNY")
    for name, expr, why in [
        ("peek_sum", ahead, "ends after the current row"),
        ("next_amount", lambda r: r.amount.lead(), "lead"),
        ("whole_sum", lambda r: r.amount.sum().over(group_by=r.customer_id), "end of time"),
    ]:
        view = FeatureView(
            "leaky", "customer_id", base.source, (Feature(name, expr),), base.ttl, "test"
        )
        store = make_store(tmp_path, views=[view])
        with pytest.raises(FutureReadError, match=f"leaky.{name} reads the future.*{why}") as err:
            store.materialize("leaky", duckdb_events(history))
        assert err.value.field == name
    assert not (tmp_path / "features" / "leaky").exists()  # nothing written


@pytest.fixture(params=["memory", "redis"])
def online(request: pytest.FixtureRequest) -> Iterator[Any]:
    if request.param == "memory":
        yield MemoryOnlineStore()
        return
    store = RedisOnlineStore(
        "redis://127.0.0.1:6379/0", prefix=f"finbridge:test:{uuid.uuid4().hex}"
    )
    yield store
    store.clear(card_spend_view("CNY").ref)


def test_online_and_offline_agree_for_the_same_entity_and_time(
    history: EventLake, tmp_path: Path, online: Any
) -> None:
    store = make_store(tmp_path, online)
    as_of = T0 - 30 * 60 * timedelta(seconds=1)  # half an hour before T0: a2 is the last known
    done = store.materialize("card_spend", duckdb_events(history), until=as_of)
    assert done.online_rows == 2  # alice, carol; bob's last row is past the TTL
    offline = store.training_set(
        labels_at(("alice", as_of, 0), ("carol", as_of, 0)), ["card_spend"]
    ).to_pylist()
    served = store.online_features("card_spend", ["alice", "carol"])
    for off, on in zip(offline, served, strict=True):
        assert on is not None and on == {k: off[k] for k in on}
    assert (served[0] or {})["spend_sum_1d"] == Decimal("15.5000")
    with pytest.raises(NotFound, match="no features of card_spend for customer_id 'bob'"):
        store.online_features("card_spend", ["alice", "bob"])
    assert store.online_features("card_spend", ["bob"], strict=False) == [None]


def test_bad_input_gets_errors_naming_what_is_wrong(history: EventLake, tmp_path: Path) -> None:
    store = make_store(tmp_path)
    labels = labels_at(("alice", T0, 1))
    with pytest.raises(NotFound, match="has not been materialised") as missing:
        store.training_set(labels, ["card_spend"])
    assert missing.value.field == "view"
    with pytest.raises(NotFound, match="no feature view 'nope'"):
        store.training_set(labels, ["nope"])
    store.materialize("card_spend", duckdb_events(history))
    with pytest.raises(ValidationError, match="has no feature 'spend_sum_2d'"):
        store.training_set(labels, ["card_spend:spend_sum_2d"])
    with pytest.raises(ValidationError, match="no 'customer_id' column") as no_entity:
        store.training_set(labels.rename_columns(["client", "label_time", "y"]), ["card_spend"])
    assert no_entity.value.field == "customer_id"
    with pytest.raises(ValidationError, match="must be a timestamp"):
        store.training_set(
            pa.table({"customer_id": ["alice"], "label_time": ["2026-11-01"]}), ["card_spend"]
        )
    with pytest.raises(Conflict, match="already registered"):
        store.registry.register(card_spend_view("EUR"))
    picked = store.training_set(labels, ["card_spend:spend_sum_1d", "card_spend:spend_max_7d"])
    assert picked.column_names == [
        "customer_id",
        "label_time",
        "is_fraud",
        "spend_sum_1d",
        "spend_max_7d",
    ]


def test_status_reports_rows_and_freshness(history: EventLake, tmp_path: Path) -> None:
    store = make_store(tmp_path)
    (before,) = store.status()
    assert before.last is None and before.freshness is None
    store.materialize("card_spend", duckdb_events(history), until=T0)
    (after,) = store.status()
    assert after.last is not None and after.last.rows == 5 and after.last.until == T0
    assert after.freshness == 2 * D + H  # the clock is at T0 + 2d; a2 was at T0 - 1h


@pytest.fixture(scope="module")
def handbook_slice() -> pa.Table:
    """Every transaction (about 2,900, six months) of the first six customers of the shipped
    handbook slice."""
    table = pq.read_table(SLICE)
    first = sorted(set(table["CUSTOMER_ID"].to_pylist()))[:6]
    return table.filter(pc.is_in(table["CUSTOMER_ID"], value_set=pa.array(first)))


def transactions(table: pa.Table) -> pa.Table:
    return pa.table(
        {
            "customer_id": table["CUSTOMER_ID"],
            "occurred_at": table["TX_DATETIME"].cast(pa.timestamp("us", tz="UTC")),
            "amount": table["TX_AMOUNT"],
        }
    )


def handbook_labels(table: pa.Table) -> pa.Table:
    return pa.table(
        {
            "customer_id": table["CUSTOMER_ID"].cast(pa.string()),
            "label_time": table["TX_DATETIME"].cast(pa.timestamp("us", tz="UTC")),
            "tx_fraud": table["TX_FRAUD"],
        }
    )


def test_handbook_profile_has_twenty_features_and_matches_a_direct_count(
    handbook_slice: pa.Table, tmp_path: Path
) -> None:
    view = spend_profile_view()
    assert len(view.features) == 20
    store = make_store(tmp_path, views=[view])
    con = ibis.duckdb.connect()
    store.materialize("spend_profile", con.create_table("tx", transactions(handbook_slice)))
    got = store.training_set(handbook_labels(handbook_slice), ["spend_profile"])
    assert got.num_rows == handbook_slice.num_rows
    # Brute force for one label: the customer's transactions in the 7 days strictly before it.
    rows = handbook_slice.to_pylist()
    label = got.slice(1500, 1).to_pylist()[0]
    t = label["label_time"].replace(tzinfo=None)
    seen = [
        r
        for r in rows
        if str(r["CUSTOMER_ID"]) == label["customer_id"]
        and t - timedelta(days=7) <= r["TX_DATETIME"] < t
    ]
    last = max((r["TX_DATETIME"] for r in seen), default=None)
    window = [
        r
        for r in rows
        if str(r["CUSTOMER_ID"]) == label["customer_id"]
        and last is not None
        and last - timedelta(days=7) <= r["TX_DATETIME"] <= last
    ]
    assert label["spend_count_7d"] == len(window)


@pytest.mark.spark
def test_the_same_expressions_give_the_same_training_set_on_spark(
    handbook_slice: pa.Table, tmp_path: Path, spark: Any
) -> None:
    view = spend_profile_view()
    two = sorted(set(handbook_slice["CUSTOMER_ID"].to_pylist()))[:2]  # Spark is slow: ~1,300 rows
    small = handbook_slice.filter(pc.is_in(handbook_slice["CUSTOMER_ID"], value_set=pa.array(two)))
    tx = transactions(small)
    labels = handbook_labels(small)

    def run(con: Any, tx_table: Any, label_table: Any) -> list[dict[str, Any]]:
        frame = feature_frame(view, tx_table)
        numbered = number_labels(label_table, "customer_id", "label_time")
        joined = point_in_time_join(
            numbered,
            frame,
            entity="customer_id",
            label_time="label_time",
            features=view.feature_names,
            ttl=view.ttl,
        )
        out = joined.to_pyarrow().sort_by(
            [("customer_id", "ascending"), ("label_time", "ascending")]
        )
        return out.to_pylist()

    duck = ibis.duckdb.connect()
    local = run(duck, duck.create_table("tx", tx), duck.create_table("labels", labels))
    sc = ibis.pyspark.connect(spark)
    spark.createDataFrame(tx.to_pandas()).createOrReplaceTempView("fs_tx")
    spark.createDataFrame(labels.to_pandas()).createOrReplaceTempView("fs_labels")
    remote = run(sc, sc.table("fs_tx"), sc.table("fs_labels"))
    assert len(local) == len(remote) == small.num_rows
    for row in local + remote:  # Spark hands instants back naive (in its UTC session zone)
        row["label_time"] = row["label_time"].replace(tzinfo=None)
    key = ("customer_id", "label_time", "tx_fraud", *view.feature_names)
    assert [tuple(r[k] for k in key) for r in local] == [tuple(r[k] for k in key) for r in remote]


def test_a_materialisation_failing_its_quality_checks_is_refused_whole(
    history: EventLake, tmp_path: Path
) -> None:
    from finbridge.lake.quality import QualityError

    base = card_spend_view("CNY")
    broken = FeatureView(
        "broken",
        "customer_id",
        base.source,
        (
            Feature(
                "spend_count_1d", lambda r: -r.amount.count().over(trailing(r, "customer_id", 1))
            ),
        ),
        base.ttl,
        "test",
    )
    store = make_store(tmp_path, views=[broken])
    with pytest.raises(QualityError, match=r"features broken:v1.*spend_count_1d"):
        store.materialize("broken", duckdb_events(history))
    assert not (tmp_path / "features" / "broken" / "v1" / "data.parquet").exists()
    assert store.status()[0].last is None


def test_the_cli_lists_materialises_and_serves(
    history: EventLake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from finbridge.cli.main import app

    monkeypatch.setenv("FINBRIDGE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("FINBRIDGE_LAKE_DIR", str(history.root))
    monkeypatch.setenv("FINBRIDGE_FEATURES__SPEND_CURRENCY", "CNY")
    runner = CliRunner()
    done = runner.invoke(app, ["features", "materialize", "card_spend", "--until", T0.isoformat()])
    assert done.exit_code == 0, done.output
    assert "5 rows, 3 entities" in done.output
    got = runner.invoke(app, ["features", "get", "card_spend", "alice"])  # a new process' store
    assert got.exit_code == 0 and "15.5000" in got.output
    listed = runner.invoke(app, ["features", "list"])
    assert "card_spend:v1" in listed.output and "spend_profile:v1" in listed.output
    unknown = runner.invoke(app, ["features", "get", "card_spend", "zed"])
    assert (
        unknown.exit_code != 0
        and "no features of card_spend for customer_id 'zed'" in unknown.output
    )
    missing = runner.invoke(app, ["features", "materialize", "nope"])
    assert missing.exit_code != 0 and "no feature view 'nope'" in missing.output

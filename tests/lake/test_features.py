"""The Ibis spending pipeline: exact, point-in-time, and identical on DuckDB and PySpark."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import ibis
import pyarrow as pa
import pytest

from finbridge.lake import Event, EventLake
from finbridge.lake.features import (
    card_spend_features,
    duckdb_events,
    spark_events,
    spend_features_duckdb,
)

from .conftest import T0

AS_OF = T0  # 2026-11-01 12:00 UTC


@pytest.fixture
def history(lake: EventLake, card_event: Callable[..., Event]) -> EventLake:
    h = timedelta(hours=1)
    d = timedelta(days=1)
    events = [
        card_event("a1", "alice", "10.00", AS_OF - 2 * h),  # in 1d, 7d, 30d
        card_event("a2", "alice", "5.55", AS_OF - 3 * d),  # in 7d, 30d
        card_event("a3", "alice", "100.01", AS_OF - 20 * d),  # in 30d
        card_event("a4", "alice", "999.00", AS_OF - 31 * d),  # too old
        card_event("a5", "alice", "7.00", AS_OF),  # at as_of: not yet known
        card_event("a6", "alice", "8.00", AS_OF + h),  # the future
        card_event("a7", "alice", "50.00", AS_OF - h, kind="refund"),  # refunds are not spend
        card_event("a8", "alice", "3.00", AS_OF - 5 * d, currency="USD"),
        card_event("b1", "bob", "0.01", AS_OF - 10 * d),
        card_event("b2", "bob", "0.02", AS_OF - 11 * d),
        card_event("b3", "bob", "0.02", AS_OF - 12 * d),
        # Ties at 4 places, which a double-based round resolves differently on each engine:
        # carol 0.010 KWD over 8 purchases = 0.00125 -> 0.0012 (half-to-even keeps the 2),
        # dave 0.030 KWD over 8 purchases = 0.00375 -> 0.0038.
        *[card_event(f"k{i}", "carol", "0.001", AS_OF - 2 * d, "KWD") for i in range(7)],
        card_event("k7", "carol", "0.003", AS_OF - 2 * d, "KWD"),
        *[card_event(f"m{i}", "dave", "0.001", AS_OF - 2 * d, "KWD") for i in range(6)],
        *[card_event(f"m{i}", "dave", "0.012", AS_OF - 2 * d, "KWD") for i in (6, 7)],
    ]
    ledger = [
        posted("l1", "alice", "card_payment", "4.45", AS_OF - 4 * h),  # counts: in every window
        posted("l2", "alice", "transfer", "500.00", AS_OF - 4 * h),  # a transfer is not spend
        posted("l3", None, "card_payment", "9.00", AS_OF - 4 * h),  # no paying customer
    ]
    lake.append(events + ledger, batch="history")
    lake.append(events[:2], batch="retried")  # the same events in a second file
    login = Event("login", AS_OF - h, {"method": "totp", "success": True}, "t", "alice")
    lake.append([login.validated()], batch="other")
    return lake


def posted(entry: str, payer: str | None, kind: str, amount: str, at: datetime) -> Event:
    """A ``transaction.posted`` event as banking emits it (schema registered by banking)."""
    payload = {
        "entry_id": entry,
        "kind": kind,
        "amount": amount,
        "currency": "CNY",
        "from_account_id": "acc-1",
        "to_account_id": "acc-2",
        "from_customer_id": payer,
        "to_customer_id": None,
        "description": 'a "quoted" note: "kind":"card_payment"',
        "channel": None,
        "merchant": "terminal 7",
    }
    return Event("transaction.posted", at, payload, "banking", payer)


def by_key(table: pa.Table) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["customer_id"], r["currency"]): r for r in table.to_pylist()}


def test_spend_features_on_duckdb_are_exact_and_point_in_time(history: EventLake) -> None:
    rows = by_key(spend_features_duckdb(history, AS_OF))
    assert set(rows) == {
        ("alice", "CNY"),
        ("alice", "USD"),
        ("bob", "CNY"),
        ("carol", "KWD"),
        ("dave", "KWD"),
    }
    alice = rows[("alice", "CNY")]
    assert (alice["spend_count_1d"], alice["spend_sum_1d"]) == (2, Decimal("14.4500"))
    assert alice["spend_avg_1d"] == Decimal("7.2250")
    assert alice["spend_max_1d"] == Decimal("10.0000")
    assert (alice["spend_count_7d"], alice["spend_sum_7d"]) == (3, Decimal("20.0000"))
    assert alice["spend_avg_7d"] == Decimal("6.6667")  # 20 / 3, rounded to 4 places
    assert (alice["spend_count_30d"], alice["spend_sum_30d"]) == (4, Decimal("120.0100"))
    assert alice["spend_max_30d"] == Decimal("100.0100")
    assert alice["spend_avg_30d"] == Decimal("30.0025")
    bob = rows[("bob", "CNY")]
    assert (bob["spend_count_7d"], bob["spend_sum_7d"], bob["spend_avg_7d"]) == (
        0,
        Decimal("0"),
        None,
    )
    assert bob["spend_avg_30d"] == Decimal("0.0167")  # 0.05 / 3, rounded to 4 places
    assert rows[("alice", "USD")]["spend_sum_7d"] == Decimal("3.0000")
    assert rows[("carol", "KWD")]["spend_avg_7d"] == Decimal("0.0012")
    assert rows[("dave", "KWD")]["spend_avg_7d"] == Decimal("0.0038")


def test_sources_select_the_feeds(history: EventLake) -> None:
    partner_only = by_key(spend_features_duckdb(history, AS_OF, sources=("card.transaction",)))
    assert partner_only[("alice", "CNY")]["spend_count_30d"] == 3
    ledger_only = by_key(spend_features_duckdb(history, AS_OF, sources=("transaction.posted",)))
    assert set(ledger_only) == {("alice", "CNY")}
    assert ledger_only[("alice", "CNY")]["spend_sum_30d"] == Decimal("4.4500")
    with pytest.raises(ValueError, match="sources must be among"):
        spend_features_duckdb(history, AS_OF, sources=("login",))


def test_as_of_moves_the_windows(history: EventLake) -> None:
    later = by_key(spend_features_duckdb(history, AS_OF + timedelta(hours=2)))
    assert later[("alice", "CNY")]["spend_count_1d"] == 4  # a1, l1, a5 and a6 are now past
    earlier = by_key(spend_features_duckdb(history, AS_OF - timedelta(days=25)))
    assert set(earlier) == {("alice", "CNY")}  # only a4 had happened by then
    assert earlier[("alice", "CNY")]["spend_count_30d"] == 1
    assert earlier[("alice", "CNY")]["spend_sum_30d"] == Decimal("999.0000")


def test_naive_as_of_is_refused(history: EventLake) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        card_spend_features(duckdb_events(history), AS_OF.replace(tzinfo=None))


def test_ibis_create_table_works_with_the_pinned_sqlglot() -> None:
    # ibis 12 + sqlglot >= 30.11 fails here with a DuckDB parser error ("DROP VIEW IF EXISTS").
    con = ibis.duckdb.connect()
    table = con.create_table("t", pa.table({"x": [1, 2]}))
    assert table.x.sum().to_pyarrow().as_py() == 3


@pytest.mark.spark
def test_the_same_pipeline_on_pyspark_gives_identical_results(
    history: EventLake, spark: Any
) -> None:
    on_duckdb = spend_features_duckdb(history, AS_OF)
    expr = card_spend_features(spark_events(spark, history.root), AS_OF)
    on_spark = expr.to_pyarrow()
    assert on_spark.column_names == on_duckdb.column_names
    assert on_spark.to_pylist() == on_duckdb.to_pylist()
    assert on_duckdb.num_rows == 5

"""Engagement sums as Ibis expressions: exact on DuckDB (each event once, strictly before the
instant, decayed, headlines unescaped, placed in a half-hour zone's local hours), and the same
expressions on Spark give the same rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.lake.conftest import spark  # noqa: F401  (the session-wide Spark fixture)

from finbridge.acquisition.engagement import (
    KINDS,
    engagement_rows,
    engagement_sums,
    sums_of,
)
from finbridge.acquisition.profiles import states_from_sums
from finbridge.acquisition.sendtime import HALF_LIFE_DAYS
from finbridge.lake import Event, EventLake
from finbridge.lake.features import duckdb_events, spark_events

UNTIL = datetime(2020, 12, 3, 0, 0, tzinfo=UTC)
READ_AT = datetime(2020, 12, 1, 2, 10, 30, tzinfo=UTC)  # 07:40:30 in Kolkata (+05:30)


@pytest.fixture
def lake(tmp_path: Path) -> EventLake:
    lake = EventLake(tmp_path / "lake")
    read = Event(
        "news.read", READ_AT, {"article_id": "a1", "title": '基金 "爆款" 发行'}, "app", "c1"
    )
    lake.append([read], batch="one")
    lake.append([read], batch="two")  # the same event again (a retried write)
    lake.append(
        [
            Event("app.opened", READ_AT + timedelta(minutes=3), {}, "app", "c1"),
            Event("news.read", UNTIL, {"article_id": "a2", "title": "late"}, "app", "c1"),
            Event("app.opened", READ_AT, {}, "app", "c2"),
        ],
        batch="three",
    )
    return lake


def test_sums_count_each_event_once_before_the_instant(lake: EventLake) -> None:
    rows = engagement_rows(duckdb_events(lake), until=UNTIL).to_pyarrow().to_pylist()
    assert sorted((r["subject_id"], r["event_type"]) for r in rows) == [
        ("c1", "app.opened"), ("c1", "news.read"), ("c2", "app.opened"),
    ]  # fmt: skip
    assert next(r["title"] for r in rows if r["event_type"] == "news.read") == '基金 "爆款" 发行'

    sums = sums_of(lake, ["c1"], UNTIL)
    assert sums.subjects == {"c1"}
    decay = 2.0 ** (-((UNTIL - READ_AT).total_seconds() / 86_400) / HALF_LIFE_DAYS)
    read = sums.buckets.filter(sums.buckets["event_type"] == "news.read").row(0, named=True)
    assert read["decay"] == pytest.approx(decay, rel=1e-9)  # once, not twice
    assert (
        read["bucket"] % 900 == 0 and read["bucket"] <= READ_AT.timestamp() < read["bucket"] + 900
    )

    states = states_from_sums(sums, UNTIL, "Asia/Kolkata")
    c1 = states["c1"]
    assert c1.first_minute[7] == 40  # 02:10 UTC is 07:40 in Kolkata
    slot = 1 * 24 + 7  # Tuesday 07:xx local (Monday-based hours of the week)

    def weighted(at: datetime, weight: float) -> float:
        return weight * 2.0 ** (-((UNTIL - at).total_seconds() / 86_400) / HALF_LIFE_DAYS)

    expected = weighted(READ_AT, 1.5) + weighted(READ_AT + timedelta(minutes=3), 1.0)
    assert c1.engagement[slot] == pytest.approx(expected, rel=1e-6)
    assert c1.engagement.sum() == pytest.approx(expected, rel=1e-6)  # nothing elsewhere
    assert c1.topics.keys() == {"funds"}
    assert c1.counts["news.read"] == pytest.approx(decay, rel=1e-9)


@pytest.mark.spark
def test_the_same_expressions_on_spark_give_the_same_sums(
    lake: EventLake,
    spark: Any,  # noqa: F811
) -> None:
    def rows(table: Any) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        buckets, news = engagement_sums(engagement_rows(table, until=UNTIL), UNTIL)
        b = sorted(
            (r["subject_id"], r["event_type"], r["bucket"], round(r["decay"], 9))
            for r in buckets.to_pyarrow().to_pylist()
        )
        n = sorted(
            (r["subject_id"], r["title"], round(r["decay"], 9))
            for r in news.to_pyarrow().to_pylist()
        )
        return b, n

    on_duckdb = rows(duckdb_events(lake))
    on_spark = rows(spark_events(spark, lake.root, event_types=KINDS))
    assert on_spark == on_duckdb and len(on_duckdb[0]) == 3

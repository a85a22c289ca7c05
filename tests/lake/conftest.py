"""Lake fixtures: an empty lake per test, event builders, and one shared PySpark session."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from finbridge.lake import Event, EventLake

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def lake(tmp_path: Path) -> EventLake:
    return EventLake(tmp_path / "lake")


def card_payload(
    tx: str, customer: str, amount: str, currency: str = "CNY", **extra: Any
) -> dict[str, Any]:
    return {
        "transaction_id": tx,
        "customer_id": customer,
        "terminal_id": "T-0001",
        "currency": currency,
        "amount": amount,
        **extra,
    }


@pytest.fixture
def card_event() -> Callable[..., Event]:
    def make(
        tx: str, customer: str, amount: str, at: datetime, currency: str = "CNY", **extra: Any
    ) -> Event:
        return Event(
            event_type="card.transaction",
            occurred_at=at,
            payload=card_payload(tx, customer, amount, currency, **extra),
            source="test",
            subject_id=customer,
        ).validated()

    return make


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """One local Spark session for the whole test run (it takes several seconds to start)."""
    from pyspark.sql import SparkSession

    # Spark's Python workers must run this interpreter (the venv), not the system one.
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    warehouse = Path(os.environ.get("TMPDIR", "/tmp")) / f"finbridge-spark-{os.getpid()}"
    session = (
        SparkSession.builder.master("local[1]")
        .appName("finbridge-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.default.parallelism", "1")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        # Short-lived test JVM: the C1 compiler alone starts faster than tiered compilation.
        .config("spark.driver.extraJavaOptions", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
        .config("spark.sql.warehouse.dir", str(warehouse))
        .config("spark.driver.memory", "1g")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()

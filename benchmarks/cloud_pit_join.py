"""Point-in-time training set of the Fraud Detection Handbook: every transaction as a label
(``TX_FRAUD`` at ``TX_DATETIME``) joined with the 20 features of the ``spend_profile`` view
(count/sum/avg/max/min over 1/7/30/90 days, as known strictly before the transaction), on DuckDB
and on Spark local mode, with the same Ibis expressions (``feature_frame`` +
``point_in_time_join``), in the same run.

Both engines end in the same small result (per feature, how many labels got a value, and the
sum of each money feature), so neither pays for moving 1.75M rows to Python, every feature is
computed, and the two results are compared. The DuckDB figure with the full training set
fetched as Arrow is printed too.

    .venv/bin/python benchmarks/cloud_pit_join.py [--data-dir ../shared/datasets] [--rows N]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.parquet as pq

from finbridge.lake.featurestore import (
    feature_frame,
    number_labels,
    point_in_time_join,
    spend_profile_view,
)

VIEW = spend_profile_view()


def load(path: Path, rows: int | None) -> tuple[pa.Table, pa.Table]:
    table = pq.read_table(path, columns=["CUSTOMER_ID", "TX_DATETIME", "TX_AMOUNT", "TX_FRAUD"])
    if rows:
        table = table.slice(0, rows)
    stamp = pa.timestamp("us", tz="UTC")  # the simulator's times, read as UTC
    tx = pa.table(
        {
            "customer_id": table["CUSTOMER_ID"],
            "occurred_at": table["TX_DATETIME"].cast(stamp),
            "amount": table["TX_AMOUNT"],
        }
    )
    labels = pa.table(
        {
            "customer_id": table["CUSTOMER_ID"].cast(pa.string()),
            "label_time": table["TX_DATETIME"].cast(stamp),
            "tx_fraud": table["TX_FRAUD"],
        }
    )
    return tx, labels


def training_set(tx: ir.Table, labels: ir.Table) -> ir.Table:
    return point_in_time_join(
        number_labels(labels, "customer_id", "label_time"),
        feature_frame(VIEW, tx),
        entity="customer_id",
        label_time="label_time",
        features=VIEW.feature_names,
        ttl=VIEW.ttl,
    )


def summary(expr: ir.Table) -> ir.Table:
    aggs: dict[str, Any] = {"labels": expr.count()}
    for name in VIEW.feature_names:
        aggs[f"n_{name}"] = expr[name].count()
        if "count" not in name:
            aggs[f"sum_{name}"] = expr[name].sum()
    return expr.aggregate(**aggs)


def timed(fn: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def spark_session(cores: int, memory: str) -> Any:
    from pyspark.sql import SparkSession

    os.environ["PYSPARK_PYTHON"] = sys.executable
    session = (
        SparkSession.builder.master(f"local[{cores}]")
        .appName("finbridge-pit-bench")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", str(cores * 2))
        .config("spark.driver.memory", memory)
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default="../shared/datasets")
    parser.add_argument("--rows", type=int, default=None, help="first N transactions only")
    parser.add_argument("--spark-cores", type=int, default=2)
    parser.add_argument("--spark-memory", default="4g")
    args = parser.parse_args()
    path = Path(args.data_dir) / "fraud" / "fdh_simulated_transactions_183d.parquet"
    tx, labels = load(path, args.rows)
    print(f"labels {labels.num_rows:,}, features {len(VIEW.feature_names)}, load {load_average()}")

    duck = ibis.duckdb.connect()
    d_expr = training_set(duck.create_table("tx", tx), duck.create_table("labels", labels))
    duck_s, duck_sum = timed(lambda: summary(d_expr).to_pyarrow().to_pylist()[0])
    full_s, full = timed(lambda: d_expr.to_pyarrow())
    print(f"duckdb: {duck_s:.1f} s (summary), {full_s:.1f} s (all {full.num_rows:,} rows to Arrow)")

    with tempfile.TemporaryDirectory() as tmp:
        pq.write_table(tx, f"{tmp}/tx.parquet")
        pq.write_table(labels, f"{tmp}/labels.parquet")
        start_s, session = timed(lambda: spark_session(args.spark_cores, args.spark_memory))
        session.read.parquet(f"{tmp}/tx.parquet").createOrReplaceTempView("tx")
        session.read.parquet(f"{tmp}/labels.parquet").createOrReplaceTempView("labels")
        sc = ibis.pyspark.connect(session)
        s_expr = training_set(sc.table("tx"), sc.table("labels"))
        spark_s, spark_sum = timed(lambda: summary(s_expr).to_pyarrow().to_pylist()[0])
        session.stop()
    print(f"spark local[{args.spark_cores}]: {spark_s:.1f} s (session start {start_s:.1f} s)")
    same = duck_sum == spark_sum
    print(f"same result on both engines: {same}")
    if not same:
        diff = {k: (v, spark_sum.get(k)) for k, v in duck_sum.items() if spark_sum.get(k) != v}
        print(f"  differences: {diff}")
    print(f"ratio spark/duckdb: {spark_s / duck_s:.1f}x; load average {load_average()}")


if __name__ == "__main__":
    main()

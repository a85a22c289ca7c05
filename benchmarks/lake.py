"""Event lake throughput on this machine: ingestion, relay, typed queries, spend features.

Uses the card-transaction slice shipped for the demo (39,802 simulated Fraud Detection Handbook
transactions) as a partner feed, by default; ``--data-dir`` + ``--rows N`` reads the first N rows
of the full 1.75M-row file instead.

    .venv/bin/python benchmarks/lake.py [--data-dir ../shared/datasets --rows 200000]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

import finbridge
from finbridge.core import ManualClock
from finbridge.lake import Event, EventLake, Ingestor, OutboxRelay, emit
from finbridge.lake.features import spend_features_duckdb
from finbridge.platform import upgrade_database
from finbridge.store import make_engine, unit_of_work

SLICE = (
    Path(finbridge.__file__).parent / "datasets" / "demo" / "fdh_card_transactions_slice.parquet"
)
TAIPEI = timezone(timedelta(hours=8))


def load(args: argparse.Namespace) -> list[dict]:
    if args.data_dir:
        path = Path(args.data_dir) / "fraud" / "fdh_simulated_transactions_183d.parquet"
        table = pq.read_table(path).slice(0, args.rows)
        if "TRANSACTION_ID" not in table.column_names:
            table = table.rename_columns(
                ["TRANSACTION_ID" if c == "TX_ID" else c for c in table.column_names]
            )
    else:
        table = pq.read_table(SLICE)
    return table.to_pylist()


def partner_row(r: dict) -> dict:
    return {
        "id": str(r["TRANSACTION_ID"]),
        "event_type": "card.transaction",
        "schema_version": 1,
        "occurred_at": r["TX_DATETIME"].replace(tzinfo=TAIPEI).isoformat(),
        "subject_id": str(r["CUSTOMER_ID"]),
        "payload": {
            "transaction_id": str(r["TRANSACTION_ID"]),
            "customer_id": str(r["CUSTOMER_ID"]),
            "terminal_id": str(r["TERMINAL_ID"]),
            "currency": "TWD",
            "amount": f"{r['TX_AMOUNT']:.2f}",
            "fraud_label": bool(r["TX_FRAUD"]),
        },
    }


def timed(fn):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--relay-events", type=int, default=20_000)
    args = parser.parse_args()
    rows = [partner_row(r) for r in load(args)]
    n = len(rows)
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/bench.db")
        upgrade_database(engine)
        lake = EventLake(Path(tmp) / "lake")
        clock = ManualClock(datetime(2026, 11, 25, tzinfo=UTC))
        ingestor = Ingestor(engine, lake, clock=clock, max_upload_bytes=2**31)

        jsonl = ("\n".join(json.dumps(r) for r in rows) + "\n").encode()
        report, t_jsonl = timed(lambda: ingestor.ingest_file(jsonl, fmt="jsonl", source="fdh"))
        assert report.accepted + report.rejected == n
        rejected = report.rejections
        _, t_replay = timed(lambda: ingestor.ingest_file(jsonl, fmt="jsonl", source="fdh"))

        flat = [{**r, "payload": json.dumps(r["payload"])} for r in rows]
        for r in flat:
            r["occurred_at"] = datetime.fromisoformat(r["occurred_at"])
        sink = io.BytesIO()
        pq.write_table(pa.Table.from_pylist(flat), sink)
        data = sink.getvalue()
        report, t_parquet = timed(
            lambda: ingestor.ingest_file(data, fmt="parquet", source="fdh-parquet")
        )
        assert report.rejections == rejected

        m = min(args.relay_events, n)
        events = [
            Event(
                "card.transaction",
                datetime.fromisoformat(r["occurred_at"]),
                r["payload"],
                "bench",
                r["subject_id"],
            )
            for r in [r for r in rows if r["payload"]["amount"] != "0.00"][:m]
        ]
        _, t_emit = timed(lambda: _emit_all(engine, events))
        result, t_relay = timed(lambda: OutboxRelay(engine, lake, clock=clock).drain())
        assert result.published == m

        subjects = [r["subject_id"] for r in rows[:: max(1, n // 20)]][:20]
        latencies = []
        for s in subjects:
            _, t = timed(lambda s=s: lake.events(event_type="card.transaction", subject_id=s))
            latencies.append(t)
        total, t_count = timed(lambda: lake.count())
        as_of = max(datetime.fromisoformat(r["occurred_at"]) for r in rows)
        feats, t_feat = timed(lambda: spend_features_duckdb(lake, as_of))

    load1 = os.getloadavg()[0]
    print(f"rows: {n} card transactions; machine: 2 cores, load average {load1:.2f}")
    for r in rejected:
        print(f"  rejected row {r.row} (id {r.row_id}): {r.field}: {r.reason}")
    print(f"ingest JSONL    : {n / t_jsonl:10,.0f} rows/s ({t_jsonl:.2f} s, {len(jsonl):,} bytes)")
    print(f"re-ingest (noop): {t_replay * 1000:10,.1f} ms")
    print(f"ingest Parquet  : {n / t_parquet:10,.0f} rows/s ({t_parquet:.2f} s)")
    print(f"emit to outbox  : {m / t_emit:10,.0f} events/s (1,000 per transaction)")
    print(f"relay to lake   : {m / t_relay:10,.0f} events/s ({result.batches} batches)")
    print(
        f"typed query     : p50 {statistics.median(latencies) * 1000:.1f} ms, "
        f"max {max(latencies) * 1000:.1f} ms (one customer's card events)"
    )
    print(f"count(*) view   : {t_count * 1000:10,.1f} ms over {total:,} distinct events")
    print(f"spend features  : {t_feat:10.2f} s for {feats.num_rows:,} customer-currency rows")


def _emit_all(engine, events: list[Event]) -> None:  # type: ignore[no-untyped-def]
    for i in range(0, len(events), 1000):
        with unit_of_work(engine) as session:
            emit(session, *events[i : i + 1000])


if __name__ == "__main__":
    main()

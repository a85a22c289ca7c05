"""A bank's own transaction file: the schema, column mapping, training and replay."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from finbridge.cli.main import app
from finbridge.core.errors import ValidationError
from finbridge.risk import ColumnMapping, load_mapping, replay_mapped, train_file_model
from finbridge.risk.transactions import to_handbook

MAPPING = ColumnMapping(
    time="booked_at", amount="amt", customer="card1", terminal="ProductCD", label="is_fraud",
    transaction_id="tx",
)  # fmt: skip


def bank_file(days: int = 24, n: int = 4000, seed: int = 5) -> pl.DataFrame:
    """Card payments over ``days`` days: cards compromised for 3 days at different times make
    large night payments."""
    rng = np.random.default_rng(seed)
    start = dt.datetime(2024, 3, 1)
    secs = np.sort(rng.integers(0, days * 86_400, n))
    cards = rng.integers(0, 200, n)
    amount = np.round(rng.gamma(2.0, 30.0, n), 2)
    day = secs // 86_400
    hit = np.zeros(n, dtype=bool)
    for card, first in zip(
        rng.choice(200, 60, replace=False), rng.integers(0, days, 60), strict=True
    ):
        hit |= (cards == card) & (day >= first) & (day < first + 3)
    fraud = hit & (rng.random(n) < 0.6)
    amount = np.where(fraud, np.round(amount * 4 + 200, 2), amount)
    secs = np.where(fraud, day * 86_400 + rng.integers(0, 5 * 3600, n), secs)
    return pl.DataFrame(
        {
            "tx": [f"T{i:06d}" for i in range(n)],
            "booked_at": [start + dt.timedelta(seconds=int(s)) for s in secs],
            "card1": cards,
            "ProductCD": rng.choice(["W", "H", "C", "S", "R"], n),
            "amt": amount,
            "is_fraud": fraud.astype(int),
            "V1": rng.normal(size=n),  # extra columns are ignored
        }
    )


class TestMapping:
    def test_missing_column_names_field_and_flag(self) -> None:
        with pytest.raises(ValidationError, match="map the customer with --customer") as err:
            to_handbook(bank_file().drop("card1"), MAPPING)
        assert err.value.field == "customer"

    def test_every_missing_column_in_one_message(self) -> None:
        frame = bank_file().drop("card1", "amt")
        with pytest.raises(ValidationError, match="2 mapped columns") as err:
            to_handbook(frame, MAPPING)
        assert "--amount (now 'amt')" in str(err.value) and "--customer none" in str(err.value)

    @pytest.mark.parametrize(
        ("change", "field", "message"),
        [
            ({"amt": ["12.5x"] * 4000}, "amount", "must hold numbers"),
            ({"is_fraud": ["maybe"] * 4000}, "label", "must hold 0/1"),
            ({"booked_at": ["yesterday"] * 4000}, "time", "are not times"),
            ({"tx": ["same"] * 4000}, "transaction_id", "repeats values"),
        ],
    )
    def test_mistyped_columns(self, change: dict[str, list[str]], field: str, message: str) -> None:
        frame = bank_file().with_columns(pl.Series(k, v) for k, v in change.items())
        with pytest.raises(ValidationError, match=message) as err:
            to_handbook(frame, MAPPING)
        assert err.value.field == field

    def test_negative_amounts(self) -> None:
        frame = bank_file().with_columns(pl.col("amt") * -1)
        with pytest.raises(ValidationError, match="negative"):
            to_handbook(frame, MAPPING)

    def test_numeric_times_no_customer_and_optional_defaults(self) -> None:
        frame = pl.DataFrame({"Time": [0.0, 30.5, 86_400.0], "Amount": [1.0, 2.0, 3.0],
                              "Class": [0, 1, 0]})  # fmt: skip
        m = ColumnMapping().merged(time="Time", amount="Amount", customer="none", label="Class")
        out = to_handbook(frame, m)
        assert out["TX_DATETIME"].to_list()[1] == dt.datetime(2000, 1, 1, 0, 0, 30, 500000)
        assert out["CUSTOMER_ID"].n_unique() == 3 and out["TERMINAL_ID"].to_list() == ["all"] * 3
        assert out["TX_TIME_DAYS"].to_list()[2] - out["TX_TIME_DAYS"].to_list()[0] == 1
        bare = ColumnMapping().merged(time="Time", amount="Amount", customer="none")
        unlabelled = to_handbook(frame.drop("Class"), bare, need_label=False)
        assert unlabelled["TX_FRAUD"].sum() == 0

    def test_yaml_mapping(self, tmp_path: Path) -> None:
        good = tmp_path / "map.yaml"
        good.write_text("time: booked_at\namount: amt\ncustomer: card1\nterminal: ProductCD\n")
        m = load_mapping(good)
        assert (m.customer, m.terminal) == ("card1", "ProductCD")
        bad = tmp_path / "bad.yaml"
        bad.write_text("card: card1\n")
        with pytest.raises(ValidationError, match="Extra inputs") as err:
            load_mapping(bad)
        assert err.value.field == "card"


class TestTrain:
    def test_point_in_time_protocol_on_own_file(self, tmp_path: Path) -> None:
        path = tmp_path / "tx.parquet"
        bank_file().write_parquet(path)
        model, metrics, facts = train_file_model(
            path, MAPPING, train_days=10, delay_days=3, test_days=7, rounds=50
        )
        assert [m.model.split()[0] for m in metrics] == ["logistic_regression", "lightgbm"]
        for m in metrics:
            assert 0.0 <= m.auc <= 1.0 and 0.0 <= m.card_precision_100 <= 1.0
            assert m.train_rows > 0 and m.test_rows > 0
        assert metrics[1].auc > 0.8  # large night payments on compromised cards
        assert facts["customers"] == 200 and facts["terminals"] == 5
        assert model.version.startswith("lgbm-2024")

    def test_span_shorter_than_the_protocol(self, tmp_path: Path) -> None:
        path = tmp_path / "tx.csv"
        bank_file(days=10).write_csv(path)
        with pytest.raises(ValidationError, match=r"spans 10 days.*needs 21"):
            train_file_model(path, MAPPING)

    def test_no_fraud_in_a_window(self, tmp_path: Path) -> None:
        path = tmp_path / "tx.parquet"
        bank_file().with_columns(pl.lit(0).alias("is_fraud")).write_parquet(path)
        with pytest.raises(ValidationError, match="has 0 frauds"):
            train_file_model(path, MAPPING, train_days=10, delay_days=3, test_days=7, rounds=5)


@pytest.mark.slow
def test_replay_and_cli(tmp_path: Path) -> None:
    import json

    from finbridge.risk import compile_rule_set

    path = tmp_path / "tx.csv"
    bank_file().write_csv(path)
    result = replay_mapped(path, MAPPING, compile_rule_set())
    assert result.events == 4000 and result.report.labelled_frauds > 0
    runner = CliRunner(env={"FINBRIDGE_DATA_DIR": str(tmp_path / "var")})
    schema = runner.invoke(app, ["risk", "schema"])
    assert schema.exit_code == 0 and "customer" in schema.output and "label" in schema.output
    missing = runner.invoke(app, ["risk", "replay", str(path)])
    assert missing.exit_code == 2 and "--time" in missing.output
    mapping = tmp_path / "map.yaml"
    mapping.write_text("time: booked_at\namount: amt\ncustomer: card1\nterminal: ProductCD\n"
                       "transaction_id: tx\n")  # fmt: skip
    replay = runner.invoke(app, ["risk", "replay", str(path), "--mapping", str(mapping),
                                 "--label", "is_fraud"])  # fmt: skip
    assert replay.exit_code == 0 and "4000" in replay.output, replay.output
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps(compile_rule_set().spec.to_json()))
    backtest = runner.invoke(app, ["risk", "backtest", str(rules), "--file", str(path),
                                   "--mapping", str(mapping), "--label", "is_fraud"])  # fmt: skip
    assert backtest.exit_code == 0 and "labelled_frauds" in backtest.output, backtest.output
    train = runner.invoke(
        app,
        ["risk", "train", "--data", str(path), "--mapping", str(mapping), "--label", "is_fraud",
         "--train-days", "10", "--delay-days", "3", "--test-days", "7", "--rounds", "30"],
    )  # fmt: skip
    assert train.exit_code == 0, train.output
    assert "registered" in train.output and "card" in train.output
    assert list((tmp_path / "var" / "risk" / "models").glob("*.json"))


@pytest.mark.slow
def test_ingested_card_events_replay_through_the_engine(tmp_path: Path) -> None:
    import json

    runner = CliRunner(env={"FINBRIDGE_DATA_DIR": str(tmp_path / "var"), "COLUMNS": "200"})
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    frame = bank_file(days=3, n=300)
    rows = [
        {
            "id": r["tx"],
            "event_type": "card.transaction",
            "schema_version": 1,
            "occurred_at": r["booked_at"].isoformat() + "+00:00",
            "subject_id": f"c{r['card1']}",
            "payload": {
                "transaction_id": r["tx"], "customer_id": f"c{r['card1']}",
                "terminal_id": f"T-{r['ProductCD']}", "currency": "CNY",
                "amount": f"{r['amt']:.2f}", "fraud_label": bool(r["is_fraud"]),
                **({"kind": "refund"} if k == 0 else {}),
            },
        }
        for k, r in enumerate(frame.iter_rows(named=True))
    ]  # fmt: skip
    feed = tmp_path / "feed.jsonl"
    feed.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    ingest = runner.invoke(app, ["events", "ingest", str(feed), "--source", "acquirer"])
    assert ingest.exit_code == 0 and "300" in ingest.output, ingest.output
    replay = runner.invoke(app, ["risk", "replay-lake"])
    assert replay.exit_code == 0, replay.output
    assert "299 ingested card payments replayed in CNY; 1 refunds left out" in replay.output
    from finbridge.risk import compile_rule_set, replay_card_events

    again = replay_card_events(rows, compile_rule_set())
    assert (again.result.events, again.refunds) == (299, 1)
    assert again.result.report.labelled_frauds == int(frame["is_fraud"][1:].sum())
    empty = runner.invoke(app, ["risk", "replay-lake", "--until", "2000-01-01"])
    assert empty.exit_code == 2 and "no card.transaction payments" in empty.output


@pytest.mark.slow  # two CLI ingestions and three replays through the model (about 10 s)
def test_a_raw_card_file_is_ingested_through_its_mapping_and_replayed_in_one_currency(
    tmp_path: Path,
) -> None:
    """The partner case of the issue: a raw card file (no event envelope) stored whole through
    the column mapping; a second file in another currency is never summed with it unconverted."""
    runner = CliRunner(env={"FINBRIDGE_DATA_DIR": str(tmp_path / "var"), "COLUMNS": "200"})
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    flags = ["--time", "booked_at", "--amount", "amt", "--customer", "card1", "--terminal",
             "ProductCD", "--label", "is_fraud", "--transaction-id", "tx"]  # fmt: skip
    eur = tmp_path / "eur.csv"
    bank_file(days=3, n=400).write_csv(eur)
    first = runner.invoke(app, ["risk", "ingest", str(eur), "--currency", "EUR", *flags])
    assert first.exit_code == 0 and "400 rows: 400 stored, 0 rejected" in first.output, first.output
    rerun = runner.invoke(app, ["risk", "ingest", str(eur), "--currency", "EUR", *flags])
    assert rerun.exit_code == 0, rerun.output
    one = runner.invoke(app, ["risk", "replay-lake"])
    assert "400 ingested card payments replayed in EUR" in one.output, one.output  # not 800
    usd = tmp_path / "usd.csv"
    bank_file(days=3, n=100, seed=9).with_columns(pl.format("U{}", "tx").alias("tx")).write_csv(usd)
    assert (
        runner.invoke(app, ["risk", "ingest", str(usd), "--currency", "USD", *flags]).exit_code == 0
    )
    mixed = runner.invoke(app, ["risk", "replay-lake"])
    assert mixed.exit_code == 2 and "EUR, USD" in mixed.output and "--currency" in mixed.output
    both = runner.invoke(app, ["risk", "replay-lake", "--currency", "EUR"])
    assert both.exit_code == 0, both.output
    assert "500 ingested card payments replayed in EUR" in both.output
    assert "100 payments converted from USD" in both.output


def test_converted_amounts_follow_the_rate_and_fine_amounts_are_refused(tmp_path: Path) -> None:
    from decimal import Decimal

    from finbridge.risk import card_events_from_file, compile_rule_set, replay_card_events

    path = tmp_path / "tx.csv"
    bank_file(days=3, n=200).write_csv(path)
    events = card_events_from_file(path, MAPPING, currency="USD")
    assert len(events) == 200 and {e["payload"]["currency"] for e in events} == {"USD"}
    rs = compile_rule_set()
    plain = replay_card_events(events, rs).result.report.to_json()
    doubled = replay_card_events(
        events, rs, currency="EUR", rate=lambda base, quote, day: Decimal("2")
    )
    assert doubled.converted == {"USD": 200} and doubled.currency == "EUR"
    report = doubled.result.report.to_json()
    assert Decimal(str(report["money_fraud_total"])) == 2 * Decimal(str(plain["money_fraud_total"]))
    fine = tmp_path / "fine.csv"
    bank_file(days=3, n=50).with_columns(pl.lit(1.234).alias("amt")).write_csv(fine)
    with pytest.raises(ValidationError, match="transaction 'T000000'") as err:
        card_events_from_file(fine, MAPPING, currency="EUR")
    assert err.value.field == "amount"

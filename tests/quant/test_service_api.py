"""The run service on real SQLite and PostgreSQL, the API endpoints and the CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from tests.api.conftest import issue_key
from typer.testing import CliRunner

from finbridge.core import ManualClock, Principal, Role, Settings
from finbridge.core.errors import NotFound, PermissionDenied, ValidationError
from finbridge.lake.tables import OutboxRow
from finbridge.platform import Platform
from finbridge.quant import MODEL_NAMES, STRATEGY_NAMES, QuantService, parse_config
from finbridge.quant.factors import LookAheadError
from finbridge.site import create_app
from finbridge.store.engine import unit_of_work

MA_CONFIG: dict[str, Any] = {
    "name": "ma us",
    "market": "us",
    "data": {"instruments": ["AAPL", "MSFT", "KO"], "start": "2014-01-01", "end": "2016-12-31"},
    "strategy": {"name": "ma_crossover", "params": {"fast": 5, "slow": 20}},
    "costs": {"commission_buy": 0.001, "commission_sell": 0.001, "min_commission": 1},
}
TOPK_YAML = """
name: topk cn
market: cn
data: {start: 2019-01-01, end: 2019-12-31, universe: csi300}
benchmark: SH000300
strategy: {name: topk_dropout, params: {topk: 8, n_drop: 2}}
signal:
  model: linear
  processors: [winsorize, zscore, fillna]
  factors: {mom5: "ref(close, 5) / close", vol10: "std(close, 10) / close"}
  train: {start: 2016-01-01, end: 2018-12-20}
fill: close
"""


def test_service_runs_stores_and_scopes_runs(engine: Engine, clock: ManualClock) -> None:
    service = QuantService(engine, clock)
    alice = Principal.operator("alice", [Role.ADMIN])
    run = service.run(alice, TOPK_YAML)
    assert run.status == "succeeded" and run.summary["fills"] > 8
    assert run.summary["ic"] is not None
    assert {"ic_1d", "ic_20d", "long_short_daily", "top8_daily", "universe_daily"} <= set(
        run.summary
    )
    assert "delisted names are absent" in run.summary["data_note"]
    assert "<svg" in service.tearsheet(alice, run.id)
    assert [r.id for r in service.list_runs(alice)] == [run.id]
    teller = Principal.operator("bob", [Role.TELLER])
    with pytest.raises(PermissionDenied, match="quant:read"):
        service.list_runs(teller)
    with pytest.raises(PermissionDenied, match="quant:run"):
        service.run(teller, MA_CONFIG)
    with unit_of_work(engine, write=False) as session:
        events = session.scalars(select(OutboxRow.event_type)).all()
    assert "quant.backtest_completed" in events


def test_other_owners_runs_are_not_found(sqlite_engine: Engine, clock: ManualClock) -> None:
    service = QuantService(sqlite_engine, clock)
    mine = service.run(Principal.system("alice"), MA_CONFIG)
    reader = Principal(Principal.system("x").kind, "eve", frozenset({"quant:read"}))
    with pytest.raises(NotFound):
        service.get(reader, mine.id)
    assert service.list_runs(reader) == []


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"strategy": {"name": "my.module.Strategy"}}, "strategy", "unknown strategy"),
        ({"market": "Mars!"}, "market", "should match pattern"),  # any imported name is valid
        ({"data": {"start": "2016-01-01", "end": "2015-01-01"}}, "data", "after data.start"),
        ({"initial_cash": -5}, "initial_cash", "greater than 0"),
        ({"surprise": 1}, "surprise", "Extra inputs"),
        (
            {
                "signal": {
                    "model": "lightgbm",
                    "model_params": {"n_estimators": 10**9},
                    "train": {"start": "2010-01-01", "end": "2012-01-01"},
                }
            },
            "signal",
            "must be a number in",
        ),
        (
            {
                "signal": {
                    "model": "linear",
                    "model_params": {"device": "gpu"},
                    "train": {"start": "2010-01-01", "end": "2012-01-01"},
                }
            },
            "signal",
            "is not allowed",
        ),
    ],
)
def test_bad_configs_name_the_field(change: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message) as err:
        parse_config({**MA_CONFIG, **change})
    assert err.value.field is not None and err.value.field.startswith(field)


def test_look_ahead_configs_are_refused(sqlite_engine: Engine, clock: ManualClock) -> None:
    service = QuantService(sqlite_engine, clock)
    actor = Principal.system("alice")
    ahead = TOPK_YAML.replace("train: {", "feature_window_end: 1\n  train: {")
    with pytest.raises(LookAheadError, match="after the decision time"):
        service.run(actor, ahead)
    peek = TOPK_YAML.replace('"ref(close, 5) / close"', '"ref(close, -1) / close"')
    with pytest.raises(LookAheadError, match="reads 1 day"):
        service.run(actor, peek)
    overlap = TOPK_YAML.replace("end: 2018-12-20", "end: 2019-03-01")
    with pytest.raises(ValidationError, match="training may not overlap"):
        service.run(actor, overlap)
    failed = service.list_runs(actor)
    assert [r.status for r in failed] == ["failed", "failed"]  # bad input is stored as failed
    with pytest.raises(ValidationError, match="unknown instruments: NOPE") as err:
        service.run(actor, {**MA_CONFIG, "data": {**MA_CONFIG["data"], "instruments": ["NOPE"]}})
    assert err.value.field == "data.instruments"


def test_api_runs_a_backtest_and_serves_its_tear_sheet(
    settings: Settings, sqlite_engine: Engine, clock: ManualClock
) -> None:
    platform = Platform(settings=settings, engine=sqlite_engine, clock=clock)
    client = TestClient(create_app(platform=platform))
    auth = {"Authorization": f"Bearer {issue_key(platform, [Role.ADMIN])}"}
    assert client.post("/v1/quant/backtests", json=MA_CONFIG).status_code == 401
    created = client.post("/v1/quant/backtests", json=MA_CONFIG, headers=auth)
    assert created.status_code == 201, created.text
    body = created.json()
    page = client.get(body["tearsheet_url"], headers=auth)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert (
        "Drawdown" in page.text and "default-src 'none'" in page.headers["content-security-policy"]
    )
    listed = client.get("/v1/quant/backtests", headers=auth).json()
    assert [r["id"] for r in listed] == [body["id"]]
    unknown = {**MA_CONFIG, "data": {**MA_CONFIG["data"], "instruments": ["ZZZZ"]}}
    refused_sym = client.post("/v1/quant/backtests", json=unknown, headers=auth)
    assert refused_sym.status_code == 422 and refused_sym.json()["field"] == "data.instruments"
    bad = client.post(
        "/v1/quant/backtests", json={**MA_CONFIG, "strategy": {"name": "x.y.Z"}}, headers=auth
    )
    assert bad.status_code == 422 and "unknown strategy" in bad.text
    server_files = {**MA_CONFIG, "data": {**MA_CONFIG["data"], "data_dir": "/etc"}}
    refused = client.post("/v1/quant/backtests", json=server_files, headers=auth)
    assert refused.status_code == 422 and refused.json()["field"] == "data.data_dir"
    assert client.get("/v1/quant/backtests/nope/tearsheet", headers=auth).status_code == 404


def test_cli_backtest_and_factors(tmp_path: Path) -> None:
    from finbridge.cli.main import app

    runner = CliRunner(env={"FINBRIDGE_DATA_DIR": str(tmp_path / "var")})
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    config = tmp_path / "run.yaml"
    config.write_text(
        "name: cli run\nmarket: us\n"
        "data: {instruments: [KO, PG], start: 2015-01-01, end: 2016-06-30}\n"
        "strategy: {name: ma_crossover, params: {fast: 5, slow: 20}}\n"
    )
    out = tmp_path / "sheet.html"
    result = runner.invoke(app, ["quant", "backtest", str(config), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "sharpe" in result.output and out.read_text().startswith("<!doctype html>")
    parquet = tmp_path / "f.parquet"
    result = runner.invoke(
        app,
        ["quant", "factors", "--out", str(parquet), "--instruments", "SH600000",
         "--end", "2015-06-30", "--expr", "mom=ref(close, 5) / close"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "1 factors" in result.output
    bad = runner.invoke(
        app, ["quant", "factors", "--out", str(parquet), "--expr", "x=ref(close,-1)"]
    )
    assert bad.exit_code == 2 and "reads 1 day" in bad.output
    missing = runner.invoke(app, ["quant", "backtest", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 2 and "no such file" in missing.output


def test_shipped_example_configs_validate_and_the_us_one_runs() -> None:
    from finbridge.quant.config import load_config
    from finbridge.quant.runner import run_config

    folder = Path(__file__).resolve().parents[2] / "src" / "finbridge" / "quant" / "examples"
    configs = {p.name: load_config(p) for p in sorted(folder.glob("*.yaml"))}
    assert set(configs) == {"csi300_topk_lightgbm.yaml", "us_ma_crossover.yaml"}
    outcome = run_config(configs["us_ma_crossover.yaml"])
    assert outcome.summary["fills"] > 20 and outcome.tearsheet_html.startswith("<!doctype html>")


def test_walk_forward_signal_retrains_inside_the_backtest() -> None:
    from finbridge.quant.runner import run_config

    text = TOPK_YAML.replace(
        "  train: {", "  walk_forward: {mode: rolling, train_years: 2, step_months: 6}\n  train: {"
    )
    outcome = run_config(parse_config(text))
    assert outcome.summary["days"] > 200 and outcome.summary["fills"] > 8
    assert "<h3>Signal</h3>" in outcome.tearsheet_html and "IC over time" in outcome.tearsheet_html


def test_the_face_is_light_and_its_names_match_the_registries() -> None:
    import subprocess
    import sys

    from finbridge.quant.backtest.strategies import STRATEGIES
    from finbridge.quant.models import MODELS

    assert set(MODEL_NAMES) == set(MODELS) and set(STRATEGY_NAMES) == set(STRATEGIES)
    # A fresh interpreter: importing the faces (and validating a config) loads no ML library.
    probe = (
        "import sys, finbridge.quant as q, finbridge.credit; q.parse_config(" + repr(TOPK_YAML)
        + "); print(sorted(m for m in ('sklearn', 'lightgbm', 'numba', 'optbinning', 'pyspark')"
        " if m in sys.modules))"
    )  # fmt: skip
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stderr

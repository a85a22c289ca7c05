"""``finbridge advisory``: catalogue, evidence and the report from the command line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from tests.advisory.conftest import BALANCED
from tests.settings_support import test_settings as make_settings
from typer.testing import CliRunner

from finbridge.cli.main import app
from finbridge.core import Principal
from finbridge.platform import Platform
from finbridge.store import make_engine

SYSTEM = Principal.system("test")


@pytest.fixture
def data_dir(_sqlite_template: Path, tmp_path: Path) -> Path:
    data = tmp_path / "var"
    data.mkdir()
    shutil.copyfile(_sqlite_template, data / "finbridge.db")
    return data


@pytest.fixture
def runner(data_dir: Path) -> CliRunner:
    return CliRunner(
        env={"FINBRIDGE_DATA_DIR": str(data_dir), "FINBRIDGE_DATABASE_URL": None,
             "FINBRIDGE_LAKE_DIR": None, "COLUMNS": "200"}
    )  # fmt: skip


def test_products_lists_levels(runner: CliRunner) -> None:
    result = runner.invoke(app, ["advisory", "products", "--max-level", "R1"])
    assert result.exit_code == 0, result.output
    assert "SHV" in result.output and "FB-USD-DEP" in result.output
    assert "SPY" not in result.output
    bad = runner.invoke(app, ["advisory", "products", "--max-level", "R7"])
    assert bad.exit_code == 2 and "max_level" in bad.output


def test_evidence_shows_stored_decisions(runner: CliRunner, data_dir: Path) -> None:
    settings = make_settings(data_dir)
    platform = Platform(settings, make_engine(settings.resolved_database_url))
    try:
        customer = platform.banking.create_customer(SYSTEM, kind="personal", display_name="Ada")
        platform.advisory.submit_profile(SYSTEM, customer.id, BALANCED)
        platform.advisory.check_suitability(SYSTEM, customer.id, "XLK")
    finally:
        platform.close()
    result = runner.invoke(app, ["advisory", "evidence", "--customer", customer.id])
    assert result.exit_code == 0, result.output
    assert "XLK" in result.output and "warning_required" in result.output


@pytest.mark.slow
def test_report_writes_html(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    # the turnover limit is a setting: the report is built and labelled with the one given
    limit = {"FINBRIDGE_ADVISORY__MAX_TURNOVER": "0.1"}
    result = runner.invoke(app, ["advisory", "report", "--out", str(out)], env=limit)
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    assert "Risk ordered out of sample" in page and "<b>yes</b>" in page
    assert "trades at most 10% one-way" in page
    bad = runner.invoke(app, ["advisory", "report", "--out", str(out)],
                        env={"FINBRIDGE_ADVISORY__MAX_TURNOVER": "2.5"})  # fmt: skip
    assert bad.exit_code != 0 and "FINBRIDGE_ADVISORY__MAX_TURNOVER" in bad.output


def test_settle_runs_the_nightly_job(runner: CliRunner) -> None:
    result = runner.invoke(app, ["advisory", "settle"])
    assert result.exit_code == 0, result.output
    assert "0 orders settled" in result.output

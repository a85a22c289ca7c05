"""The portfolio simulation's console panel, ``finbridge lending simulate`` with its HTML report,
and the demo's run."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

from fastapi.testclient import TestClient
from tests.api.conftest import issue_key
from tests.lending.conftest import OPS
from tests.web.conftest import log_in
from typer.testing import CliRunner

from finbridge.core import Role
from finbridge.platform import Platform
from finbridge.site import create_app

HX = {"HX-Request": "true"}


def test_the_console_panel_runs_and_shows_the_simulation(platform: Platform) -> None:
    client = TestClient(create_app(platform=platform))
    log_in(client, issue_key(platform, [Role.CREDIT_OFFICER]))
    index = client.get("/console/lending")
    assert index.status_code == 200 and 'hx-get="/console/lending/simulation"' in index.text
    empty = client.get("/console/lending/simulation", headers=HX)
    assert empty.status_code == 200 and "No simulation has been run yet" in empty.text

    form = {"customers": "300", "months": "5", "seed": "3", "product_id": "everyday@1"}
    assert client.post("/console/lending/simulation", data=form).status_code in (400, 403)
    ran = client.post("/console/lending/simulation", data=form, headers=HX)
    assert ran.status_code == 200, ran.text
    assert "300 of the demo's customers over 5 months" in ran.text
    charts = dict(re.findall(r'id="(sim-[a-z0-9]+)"[^>]*data-echarts=\'([^\']+)\'', ran.text))
    assert set(charts) == {"sim-utilisation", "sim-buckets", "sim-rolls", "sim-vintages60",
                           "sim-vintagesoff", "sim-revenue"}  # fmt: skip
    utilisation = json.loads(html.unescape(charts["sim-utilisation"]))
    assert len(utilisation["series"][0]["data"]) == 5
    assert all(0 < x < 100 for x in utilisation["series"][0]["data"])
    shown = client.get("/console/lending/simulation", headers=HX)
    assert "300 of the demo's customers" in shown.text  # the latest run, from its file

    bad = client.post("/console/lending/simulation", data={**form, "months": "0"}, headers=HX)
    assert bad.status_code == 422 and "months" in bad.text
    unknown = {**form, "product_id": "nosuch@1"}
    assert client.post("/console/lending/simulation", data=unknown, headers=HX).status_code == 404

    teller = TestClient(create_app(platform=platform))
    log_in(teller, issue_key(platform, [Role.TELLER]))
    assert teller.get("/console/lending/simulation", headers=HX).status_code == 403


def test_the_cli_prints_the_figures_and_writes_the_report(tmp_path: Path) -> None:
    from finbridge.cli.main import app

    runner = CliRunner(env={"FINBRIDGE_DATA_DIR": str(tmp_path / "var")})
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(app, ["lending", "install"]).exit_code == 0
    out = tmp_path / "report.html"
    args = ["lending", "simulate", "--customers", "250", "--months", "3", "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "roll rates: current->M1" in result.output and "2025-03" in result.output
    page = out.read_text(encoding="utf-8")
    assert page.count("data-echarts=") == 6 and "echarts.init" in page
    assert "250 of the demo's customers over 3 months" in page
    assert "<script src=" not in page  # self-contained: opens offline
    bad = runner.invoke(app, ["lending", "simulate", "--customers", "0"])
    assert bad.exit_code == 2 and "customers" in bad.output


def test_the_demo_runs_a_smaller_simulation_once(platform: Platform) -> None:
    from finbridge.cli.demo_lending import DEMO_SIMULATION_CUSTOMERS, seed_lending_simulation

    said = seed_lending_simulation(platform)
    assert said == f"portfolio simulation: {DEMO_SIMULATION_CUSTOMERS} customers x 12 months"
    latest = platform.lending_simulations.latest(OPS)
    assert latest.params.customers == DEMO_SIMULATION_CUSTOMERS and len(latest.months) == 12
    assert latest.total("interest").minor > 0
    assert seed_lending_simulation(platform) is None

"""``finbridge credit train | models | promote | report | score`` and ``credit joint certs``."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from finbridge.cli.main import app
from finbridge.credit.datasets import DATA_DIR, GERMAN_TARGET, german


def test_train_promote_report_score(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("FINBRIDGE_DATA_DIR", str(tmp_path / "var"))
    runner = CliRunner()
    data = str(DATA_DIR / "german_credit.csv")
    r = runner.invoke(
        app, ["credit", "train", "--data", data, "--target", GERMAN_TARGET, "--name", "g"]
    )
    assert r.exit_code == 0, r.output
    assert "g v1" in r.output and "held-out AUC" in r.output
    r = runner.invoke(app, ["credit", "promote", "g", "1"])
    assert r.exit_code == 0 and "g v1 is live" in r.output
    assert "live" in runner.invoke(app, ["credit", "models"]).output
    out = tmp_path / "g.html"
    r = runner.invoke(app, ["credit", "report", "g", "--out", str(out), "--current", data])
    assert r.exit_code == 0, r.output
    assert "<svg" in out.read_text() and "Stability" in out.read_text()
    row = german().drop(columns=[GERMAN_TARGET]).iloc[3].to_dict()
    row = {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
    r = runner.invoke(app, ["credit", "score", "g", json.dumps(row)])
    assert r.exit_code == 0, r.output
    assert '"version": 1' in r.output and '"reasons"' in r.output
    bad = runner.invoke(
        app, ["credit", "train", "--data", data, "--target", "nope", "--name", "g2"]
    )
    assert bad.exit_code == 2 and "target column 'nope' not in the data" in bad.output
    assert "g2" not in runner.invoke(app, ["credit", "models"]).output  # nothing registered


def test_joint_certs(tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["credit", "joint", "certs", "--out", str(tmp_path / "c")])
    assert r.exit_code == 0, r.output
    assert {p.name for p in (tmp_path / "c").iterdir()} >= {"ca.pem", "bank.pem", "partner.key"}

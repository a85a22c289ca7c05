"""``finbridge credit train | models | promote | report | score`` and ``credit joint certs``."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from cryptography import x509
from tests.settings_support import test_settings as settings_on
from typer.testing import CliRunner

from finbridge.cli.main import app
from finbridge.core import Principal
from finbridge.core.clock import SystemClock
from finbridge.credit.datasets import DATA_DIR, GERMAN_TARGET, german
from finbridge.platform import Platform


def test_train_promote_report_score(tmp_path: Path) -> None:
    env = {"FINBRIDGE_DATA_DIR": str(tmp_path / "var")}
    runner = CliRunner(env=env)
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
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
    score = ["credit", "score", "g", json.dumps(row), "--customer-id", "cust-5"]
    refused = runner.invoke(app, score)
    assert refused.exit_code == 2 and "consent" in refused.output
    platform = Platform.build(settings_on(tmp_path / "var"))
    try:
        admin = Principal.system("cli-test")
        platform.identity.consents.grant(admin, "cust-5", "credit_scoring", ["credit"])
    finally:
        platform.close()
    r = runner.invoke(app, score)
    assert r.exit_code == 0, r.output
    assert '"version": 1' in r.output and '"reasons"' in r.output
    bad = runner.invoke(
        app, ["credit", "train", "--data", data, "--target", "nope", "--name", "g2"]
    )
    assert bad.exit_code == 2 and "target column 'nope' not in the data" in bad.output
    assert "g2" not in runner.invoke(app, ["credit", "models"]).output  # nothing registered


def _expiry(path: Path) -> dt.datetime:
    return x509.load_pem_x509_certificate(path.read_bytes()).not_valid_after_utc


def test_joint_certs_issue_for_the_configured_period_and_renew(tmp_path: Path) -> None:
    folder = tmp_path / "c"
    runner = CliRunner(env={"FINBRIDGE_CREDIT__CERT_VALIDITY_DAYS": "90"})
    r = runner.invoke(app, ["credit", "joint", "certs", "--out", str(folder)])
    assert r.exit_code == 0, r.output
    assert {p.name for p in folder.iterdir()} >= {"ca.pem", "ca.key", "bank.pem", "partner.key"}
    left = _expiry(folder / "bank.pem") - SystemClock().now()
    assert dt.timedelta(days=89) < left <= dt.timedelta(days=90)
    ca = (folder / "ca.pem").read_bytes()
    r = runner.invoke(
        app, ["credit", "joint", "certs", "--renew", str(folder), "--days", "400", "--role", "bank"]
    )
    assert r.exit_code == 0 and "renewed" in r.output, r.output
    assert (folder / "ca.pem").read_bytes() == ca  # same CA: the partner keeps trusting us
    assert _expiry(folder / "bank.pem") - SystemClock().now() > dt.timedelta(days=399)
    assert _expiry(folder / "partner.pem") - SystemClock().now() < dt.timedelta(days=91)
    both = runner.invoke(app, ["credit", "joint", "certs"])
    assert both.exit_code == 2 and "exactly one of" in both.output

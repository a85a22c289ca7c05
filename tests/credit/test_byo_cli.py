"""``finbridge credit train | profile`` on a bank's own files: one clear message, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.credit.test_byo_credit import applicants
from typer.testing import CliRunner

from finbridge.cli.main import app


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory) -> CliRunner:
    var = tmp_path_factory.mktemp("var")
    r = CliRunner(env={"FINBRIDGE_DATA_DIR": str(var)})
    assert r.invoke(app, ["db", "upgrade"]).exit_code == 0
    return r


def _train(runner: CliRunner, *args: str):  # type: ignore[no-untyped-def]
    result = runner.invoke(app, ["credit", "train", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    return result


def test_train_with_flags_and_config(runner: CliRunner, tmp_path: Path) -> None:
    data = tmp_path / "apps.csv"
    applicants().to_csv(data, index=False)
    config = tmp_path / "train.yaml"
    config.write_text("target: status\nname: byo\nseed: 5\nkind: scorecard\n")
    r = _train(runner, "--data", str(data), "--config", str(config), "--id-column", "cust_id",
               "--bad-label", "bad", "--holdout", "0.3")  # fmt: skip
    assert r.exit_code == 0, r.output
    out = " ".join(r.output.split())
    assert "byo v1" in out and "seed 5" in out
    assert "collections_flag: leakage" in out and "cust_id: named" in out
    assert "on 120 rows" in out  # 30 % of 400 held out


def test_profile_command_lists_everything(runner: CliRunner, tmp_path: Path) -> None:
    data = tmp_path / "apps.jsonl"
    data.write_text(applicants().to_json(orient="records", lines=True))
    r = runner.invoke(app, ["credit", "profile", str(data), "--target", "status"])
    assert r.exit_code == 0, r.output
    for column in ("cust_id", "amount", "branch", "notes", "collections_flag"):
        assert column in r.output


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        (b"", (), "is empty"),
        (None, ("--target", "nope"), "target column 'nope' not in the data"),
        (None, ("--drop", "ghost"), "not in the data: ['ghost']"),
        (None, ("--holdout", "0.9"), "holdout"),
        (None, ("--unseen", "maybe"), "unseen"),
        ("three", (), "found 3: "),
        ("tiny", (), "too little data"),
        ("one", (), "has 1 row"),
    ],
)
def test_bad_inputs_give_one_message(
    runner: CliRunner, tmp_path: Path, content: object, args: tuple[str, ...], message: str
) -> None:
    data = tmp_path / "apps.csv"
    frame = applicants(60 if content in ("tiny", "one") else 300)
    if content == "three":
        frame.loc[:3, "status"] = "maybe"
    if content == "one":
        frame["status"] = "good"
        frame.loc[0, "status"] = "bad"
    if isinstance(content, bytes):
        data.write_bytes(content)
    else:
        frame.to_csv(data, index=False)
    base = ["--data", str(data), "--target", "status", "--name", "bad"]
    r = _train(runner, *base, *args)
    assert r.exit_code == 2, r.output
    assert message in " ".join(r.output.split()), r.output
    assert "bad" not in runner.invoke(app, ["credit", "models"]).output.split()


def test_allow_small_trains_with_a_warning(runner: CliRunner, tmp_path: Path) -> None:
    data = tmp_path / "small.csv"
    applicants(80).to_csv(data, index=False)
    r = _train(runner, "--data", str(data), "--target", "status", "--name", "small",
               "--allow-small")  # fmt: skip
    assert r.exit_code == 0, r.output
    out = " ".join(r.output.split())
    assert "warning" in out and "held-out rows" in out

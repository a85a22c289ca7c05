"""``finbridge lending convert|instalments|settle|review-limit|reviews``: bad input named."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner


def test_instalment_and_review_commands_name_what_is_wrong(tmp_path: Path) -> None:
    from finbridge.cli.main import app

    runner = CliRunner(env={"FINBRIDGE_DATA_DIR": str(tmp_path / "var")})
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(app, ["lending", "install"]).exit_code == 0
    bad = runner.invoke(app, ["lending", "convert", "order", "x"])
    assert bad.exit_code == 2 and "purchase or statement" in bad.output
    missing = runner.invoke(app, ["lending", "convert", "purchase", "nope", "--periods", "6"])
    assert missing.exit_code != 0 and "no such purchase" in missing.output
    missing = runner.invoke(app, ["lending", "review-limit", "nope"])
    assert missing.exit_code != 0 and "no such credit line" in missing.output

"""``finbridge identity eval-face | rotate-keys`` and ``finbridge audit verify``."""

from __future__ import annotations

import shutil
from pathlib import Path

from pydantic import SecretStr
from sqlalchemy import text
from tests.settings_support import test_settings as make_settings
from typer.testing import CliRunner

from finbridge.cli.main import app
from finbridge.core import ManualClock, Principal
from finbridge.identity import IdentityServices, generate_key_spec
from finbridge.platform import upgrade_database
from finbridge.store import make_engine

from .conftest import ZHANG
from .faces import DATA


def test_eval_face_on_a_small_pair_list(tmp_path: Path) -> None:
    deep = tmp_path / "faces" / "deepface_unit_dataset"
    examples = tmp_path / "faces" / "face_recognition_examples"
    deep.mkdir(parents=True)
    examples.mkdir(parents=True)
    for name in ("obama_a.jpg", "obama_b.jpg", "biden.jpg"):
        shutil.copy(DATA / name, deep / name)
    shutil.copy(DATA / "obama_b.jpg", examples / "obama1.jpg")
    shutil.copy(DATA / "biden.jpg", examples / "biden.jpg")
    (deep / "master.csv").write_text(
        "file_x,file_y,Decision\nobama_a.jpg,obama_b.jpg,Yes\nobama_a.jpg,biden.jpg,No\n"
    )
    result = CliRunner().invoke(app, ["identity", "eval-face", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "deepface_pairs: 2 pairs (1 same, 1 different)" in result.output
    assert "FAR 0.00% (0), FRR 0.00% (0)" in result.output


def _cli_env(data_dir: Path, **extra: str) -> dict[str, str | None]:
    """The command line's input is its environment: given to the runner for one invocation
    (the test process's own environment is left alone)."""
    return {
        "FINBRIDGE_ENV": "test",
        "FINBRIDGE_DATA_DIR": str(data_dir),
        "FINBRIDGE_DATABASE_URL": None,
        "FINBRIDGE_LAKE_DIR": None,
        "FINBRIDGE_IDENTITY__PASSWORD_HASHING": "fast",
        **extra,
    }


def test_rotate_keys_and_audit_verify(tmp_path: Path, clock: ManualClock) -> None:
    old = generate_key_spec("k1")
    settings = make_settings(tmp_path, pii_keys=SecretStr(old))
    engine = make_engine(settings.resolved_database_url)
    upgrade_database(engine)
    ids = IdentityServices.build(engine, clock, settings)
    customer = ids.persons.register(ZHANG).customer_id
    runner = CliRunner()
    assert runner.invoke(app, ["audit", "verify"], env=_cli_env(tmp_path)).exit_code == 0
    new_keys = f"{generate_key_spec('k2')},{old}"
    result = runner.invoke(
        app, ["identity", "rotate-keys"], env=_cli_env(tmp_path, FINBRIDGE_PII_KEYS=new_keys)
    )
    assert result.exit_code == 0, result.output
    assert "re-encrypted 5 value(s) under key 'k2'" in result.output  # 4 person fields + card
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT phone_enc FROM identity_persons")).scalar_one()
    assert stored.startswith("v1:k2:")
    rotated = IdentityServices.build(
        engine, clock, settings.with_changes(pii_keys=SecretStr(new_keys))
    )
    assert rotated.persons.reveal(Principal.system(), customer, "phone", "test") == ZHANG.phone
    # tamper and verify again
    with engine.begin() as conn:
        conn.execute(text("DROP TRIGGER identity_audit_no_update"))
        conn.execute(text("UPDATE identity_audit_log SET actor = 'mallory' WHERE seq = 1"))
    result = runner.invoke(app, ["audit", "verify"], env=_cli_env(tmp_path))
    assert result.exit_code == 1
    assert "seq 1: content does not match its hash" in result.output
    engine.dispose()


def test_register_command_creates_a_customer_who_can_log_in(
    tmp_path: Path, clock: ManualClock
) -> None:
    settings = make_settings(tmp_path)
    engine = make_engine(settings.resolved_database_url)
    upgrade_database(engine)  # the CLI does not migrate: `finbridge db upgrade` does
    args = [
        "identity",
        "register",
        "--name",
        "张三丰",
        "--id-number",
        ZHANG.id_number,
        "--phone",
        ZHANG.phone,
        "--password",
        "correct horse battery",
    ]
    result = CliRunner().invoke(app, args, env=_cli_env(tmp_path))
    assert result.exit_code == 0, result.output
    assert "110***********4477" in result.output and ZHANG.id_number not in result.output
    again = CliRunner().invoke(app, args, env=_cli_env(tmp_path))
    assert again.exit_code == 2 and "already registered" in again.output
    ids = IdentityServices.build(engine, clock, settings)
    assert ids.login.start(ZHANG.phone, "correct horse battery").tokens is not None
    engine.dispose()

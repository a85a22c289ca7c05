"""``finbridge identity eval-face | rotate-keys`` and ``finbridge audit verify``."""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy import text
from typer.testing import CliRunner

from finbridge.cli.main import app
from finbridge.core import ManualClock, Settings
from finbridge.identity.services import IdentityServices
from finbridge.identity.vault import generate_key_spec
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


def test_rotate_keys_and_audit_verify(tmp_path: Path, clock: ManualClock, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    old = generate_key_spec("k1")
    env = {"FINBRIDGE_ENV": "test", "FINBRIDGE_DATA_DIR": str(tmp_path), "FINBRIDGE_PII_KEYS": old}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    settings = Settings()
    engine = make_engine(settings.resolved_database_url)
    upgrade_database(engine)
    ids = IdentityServices.build(engine, clock, settings)
    customer = ids.persons.register(ZHANG).customer_id
    runner = CliRunner()
    assert runner.invoke(app, ["audit", "verify"]).exit_code == 0
    monkeypatch.setenv("FINBRIDGE_PII_KEYS", f"{generate_key_spec('k2')},{old}")
    result = runner.invoke(app, ["identity", "rotate-keys"])
    assert result.exit_code == 0, result.output
    assert "re-encrypted 5 value(s) under key 'k2'" in result.output  # 4 person fields + card
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT phone_enc FROM identity_persons")).scalar_one()
    assert stored.startswith("v1:k2:")
    rotated = IdentityServices.build(engine, clock, Settings())
    from finbridge.core import Principal

    assert rotated.persons.reveal(Principal.system(), customer, "phone", "test") == ZHANG.phone
    # tamper and verify again
    with engine.begin() as conn:
        conn.execute(text("DROP TRIGGER identity_audit_no_update"))
        conn.execute(text("UPDATE identity_audit_log SET actor = 'mallory' WHERE seq = 1"))
    result = runner.invoke(app, ["audit", "verify"])
    assert result.exit_code == 1
    assert "seq 1: content does not match its hash" in result.output
    engine.dispose()


def test_register_command_creates_a_customer_who_can_log_in(
    tmp_path: Path, clock: ManualClock, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("FINBRIDGE_ENV", "test")
    monkeypatch.setenv("FINBRIDGE_DATA_DIR", str(tmp_path))
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
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "110***********4477" in result.output and ZHANG.id_number not in result.output
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 2 and "already registered" in again.output
    engine = make_engine(Settings().resolved_database_url)
    ids = IdentityServices.build(engine, clock, Settings())
    assert ids.login.start(ZHANG.phone, "correct horse battery").tokens is not None
    engine.dispose()

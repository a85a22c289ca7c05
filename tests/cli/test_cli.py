"""The ``finbridge`` commands of the interfaces area: apikeys, data load, demo, serve."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from finbridge.cli.main import app
from finbridge.core import Settings
from finbridge.identity.apikeys import ApiKeyService
from finbridge.platform import Platform

KEY = re.compile(r"fbk_[0-9a-f]{12}_[A-Za-z0-9_\-]+")


@pytest.fixture
def env(tmp_path: Path, _sqlite_template: Path) -> dict[str, str]:
    # Start from the session's migrated template so each command's upgrade is a no-op.
    data = tmp_path / "data"
    data.mkdir()
    shutil.copyfile(_sqlite_template, data / "finbridge.db")
    return {"FINBRIDGE_DATA_DIR": str(data), "COLUMNS": "200"}


def _run(env: dict[str, str], *args: str) -> str:
    result = CliRunner().invoke(app, list(args), env=env)
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())  # Rich may wrap lines at the terminal width


def _keys(env: dict[str, str]) -> ApiKeyService:
    platform = Platform.build(Settings(data_dir=Path(env["FINBRIDGE_DATA_DIR"])))
    secret = platform.settings.secret_key.get_secret_value()
    return ApiKeyService(platform.engine, platform.clock, secret)


def test_help_lists_the_commands() -> None:
    output = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"}).output
    for command in ("demo", "serve", "db", "data", "apikeys", "events"):
        assert re.search(rf"\b{command}\b", output), command


def test_apikeys_create_list_revoke(env: dict[str, str]) -> None:
    created = _run(
        env, "apikeys", "create", "ops desk", "--role", "teller", "--role", "risk_analyst"
    )
    plaintext = KEY.search(created)
    assert plaintext is not None
    keys = _keys(env)
    principal = keys.authenticate(plaintext.group(0))
    assert principal.has_scope("transfers:write") and principal.has_scope("risk:read")
    listed = _run(env, "apikeys", "list")
    assert "ops desk" in listed
    assert plaintext.group(0) not in listed  # secrets are never shown again
    key_id = keys.list()[0].id
    assert "revoked" in _run(env, "apikeys", "revoke", key_id)
    with pytest.raises(Exception, match="invalid or revoked"):
        keys.authenticate(plaintext.group(0))
    bad = CliRunner().invoke(app, ["apikeys", "revoke", key_id], env=env)
    assert bad.exit_code == 2
    assert "no active API key" in bad.output


def test_apikeys_create_refuses_unknown_role(env: dict[str, str]) -> None:
    result = CliRunner().invoke(app, ["apikeys", "create", "x", "--role", "god"], env=env)
    assert result.exit_code != 0
    assert "god" in result.output


def test_data_load_is_idempotent(env: dict[str, str]) -> None:
    first = _run(env, "data", "load", "--limit", "15")
    assert "loaded 15 customers" in first
    posted = re.search(r"([\d,]+) card payments posted", first)
    assert posted is not None and int(posted.group(1).replace(",", "")) > 200
    second = _run(env, "data", "load", "--limit", "15")
    assert "0 card payments posted" in second
    assert f"({posted.group(1)} already there" in second


@pytest.mark.slow  # two CLI processes seeding the demo: 26 s on a quiet 2-core box
def test_demo_no_serve_seeds_once_and_prints_a_working_key(env: dict[str, str]) -> None:
    output = _run(env, "demo", "--no-serve", "--limit", "10")
    assert "loaded 10 customers" in output
    assert "http://127.0.0.1:8000/console" in output
    key = KEY.search(output)
    assert key is not None
    assert _keys(env).authenticate(key.group(0)).has_scope("anything:at-all")  # admin
    again = _run(env, "demo", "--no-serve", "--limit", "10")
    assert "already seeded" in again


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_serve_runs_uvicorn_and_stops_on_interrupt(env: dict[str, str]) -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "finbridge.cli.main", "serve", "--port", str(port)],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        # ~14 s to /ready on a quiet machine (imports, the risk model, the writer process);
        # a loaded CI machine has taken 60: the bound is for a hang, not for speed.
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1)
                break
            except httpx.HTTPError:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                time.sleep(0.2)
        else:
            pytest.fail("finbridge serve did not answer within 180 s")
        assert ready.json()["status"] == "ready"
        assert httpx.get(f"http://127.0.0.1:{port}/v1/accounts").status_code == 401
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out


@pytest.mark.slow
def test_demo_serves_seeded_data_with_the_printed_key(env: dict[str, str]) -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "finbridge.cli.main", "demo", "--limit", "5", "--port", str(port)],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    seen: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            seen.append(line)
            if line.startswith("serving after"):
                break
        output = "".join(seen)
        assert "serving after" in output, output
        key = KEY.search(output)
        assert key is not None
        assert f"http://127.0.0.1:{port}/console" in output
        auth = {"Authorization": f"Bearer {key.group(0)}"}
        customers = httpx.get(f"http://127.0.0.1:{port}/v1/customers", headers=auth, timeout=10)
        assert customers.status_code == 200
        # The five Taiwan clients, plus the customers other engines' seeding opens (the app's
        # ready login, advisory's profiled investors, payments' merchants...).
        names = [c["display_name"] for c in customers.json()["items"]]
        assert 5 < len(names) <= 20, names
    finally:
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, rest


def test_config_show_prints_effective_settings_with_secrets_masked(env: dict[str, str]) -> None:
    secret = "a-very-long-production-like-secret-value-0123456789"
    shown = _run(
        {
            **env,
            "FINBRIDGE_SECRET_KEY": secret,
            "FINBRIDGE_DATABASE_URL": "postgresql://bank:hunter2@db.internal:5432/finbridge",
            "FINBRIDGE_RISK__VELOCITY": "redis",
            "FINBRIDGE_SERVE__PORT": "9100",
        },
        "config",
        "show",
    )
    assert secret not in shown and "hunter2" not in shown
    assert '"secret_key": "**********"' in shown
    assert "postgresql://**********@db.internal:5432/finbridge" in shown
    assert '"velocity": "redis"' in shown and '"port": 9100' in shown


def test_config_show_names_a_bad_setting(env: dict[str, str]) -> None:
    result = CliRunner().invoke(
        app, ["config", "show"], env={**env, "FINBRIDGE_SERVE__PORT": "not-a-port"}
    )
    assert result.exit_code == 2
    assert "FINBRIDGE_SERVE__PORT" in result.output

"""The demo's ready app customer: its printed login (password + TOTP secret) signs in to the
app, and a second demo run prints the same login without registering anyone again."""

from __future__ import annotations

from datetime import timedelta

import pyotp
from fastapi.testclient import TestClient

from finbridge.cli.demo_app import seed_app_customer
from finbridge.core import ManualClock
from finbridge.platform import Platform

from .conftest import csrf_of


def test_demo_login_signs_in(client: TestClient, platform: Platform, clock: ManualClock) -> None:
    login = seed_app_customer(platform)
    assert login is not None
    assert seed_app_customer(platform) == login  # idempotent: the same customer and secrets
    path = platform.settings.data_dir / "demo-app-login.json"
    assert path.stat().st_mode & 0o077 == 0  # owner-only
    page = client.get("/app/login")
    step = client.post(
        "/app/login",
        data={"phone": login.phone, "password": login.password, "csrf_token": csrf_of(page.text)},
    )
    challenge = step.text.split('name="challenge" value="')[1].split('"')[0]
    clock.advance(timedelta(seconds=30))
    code = pyotp.TOTP(login.totp_secret).at(clock.now())
    done = client.post(
        "/app/login/code",
        data={"challenge": challenge, "code": code, "csrf_token": csrf_of(step.text)},
    )
    assert done.status_code == 200
    assert "工资" in done.text and "¥18,015.50" in done.text and "US$420.00" in done.text
    assert 'id="card-messages"' in done.text  # the welcome message
    path.unlink()
    assert seed_app_customer(platform) is None  # exists, but its secrets are gone

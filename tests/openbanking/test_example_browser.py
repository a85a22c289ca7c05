"""The example third-party app as its own process (``python -m thirdparty_app``) against the
real server under uvicorn, with the customer's part in Chromium: sign in to the customer app
(password, then TOTP), open the app's authorisation URL, choose the account, allow; the browser
lands on the app's own callback server and the app prints the balance it then read."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from tests.browser_support import free_port, launch_chromium, serve
from tests.openbanking.conftest import PASSWORD, SYSTEM
from tests.settings_support import test_settings as settings_for
from thirdparty_app.client import new_key

from finbridge.banking import ApproveAll
from finbridge.core import Money, Principal, SystemClock
from finbridge.core.settings import OpenBankingSettings
from finbridge.identity import RegistrationRequest, StepUpGuard
from finbridge.openbanking import AppStatus
from finbridge.platform import Platform

pytestmark = [pytest.mark.browser, pytest.mark.slow]
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_example_app_process_and_consent_in_chromium(tmp_path: Path, sqlite_engine: Engine) -> None:
    import pyotp
    from playwright.sync_api import sync_playwright

    port, callback = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    settings = settings_for(tmp_path / "data", openbanking=OpenBankingSettings(issuer=base))
    # Real time on both sides: the example app signs its proofs with its own clock.
    clock = SystemClock()
    platform = Platform(settings=settings, engine=sqlite_engine, clock=clock)
    platform.use_posting_guard(StepUpGuard(platform.identity.step_up, inner=ApproveAll()))
    ids = platform.identity
    req = RegistrationRequest(
        name="张三丰",
        id_type="prc_resident_id",
        id_number="110101199003074477",
        phone="13812345678",
    )
    cid = ids.persons.register(req, password=PASSWORD).customer_id
    totp = pyotp.TOTP(ids.totp.begin_setup(Principal.customer(cid), cid).secret)
    ids.totp.confirm_setup(Principal.customer(cid), cid, totp.at(clock.now()))
    account = platform.banking.open_account(SYSTEM, cid, kind="current", currency_code="CNY").id
    platform.banking.deposit(SYSTEM, account, Money.of("1000.00", "CNY"), idempotency_key="f")
    key = new_key()
    redirect = f"http://127.0.0.1:{callback}/callback"
    app = platform.openbanking.apps.register(
        SYSTEM,
        name="Budget Buddy",
        developer="BB",
        redirect_uris=[redirect],
        jwks={"keys": [key.as_dict(private=False) | {"kid": key.kid}]},
        scopes=["accounts"],
    )
    platform.openbanking.apps.decide(SYSTEM, app.client_id, AppStatus.APPROVED)
    app_file = tmp_path / "app.json"
    app_file.write_text(
        json.dumps(
            {
                "client_id": app.client_id,
                "redirect_uri": redirect,
                "key": key.as_dict(private=True) | {"kid": key.kid},
            }
        )
    )

    with serve(platform, port):
        proc = subprocess.Popen(
            [sys.executable, "-m", "thirdparty_app", "--bank", base, "--app-file", str(app_file)],
            cwd=EXAMPLES,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            assert proc.stdout is not None
            url = ""
            for line in proc.stdout:
                if line.strip().startswith(base):
                    url = line.strip()
                    break
            assert url, "the app printed no authorisation URL"
            with sync_playwright() as p:
                browser = launch_chromium(p)
                page = browser.new_page()
                page.goto(f"{base}/app/login")
                page.fill("#phone", req.phone)
                page.fill("#password", PASSWORD)
                page.click("button[type=submit].primary")
                # The next TOTP step is accepted (one step of drift) and is not the one used above.
                page.fill("#code", totp.at(clock.now() + timedelta(seconds=30)))
                page.click("button[type=submit].primary")
                page.wait_for_selector("a[href='/app/openbanking']")  # signed in: the tab bar
                page.goto(url)
                assert "Budget Buddy" in page.content()
                page.check(f"input[value='{account}']")
                page.click("button[value=approve]")
                page.wait_for_url(f"{redirect}**")
                assert "Done" in page.content()
                browser.close()
            out, _ = proc.communicate(timeout=60)
        finally:
            proc.kill()
        assert proc.returncode == 0, out
        assert f"current {account}: 1000.00 CNY" in out

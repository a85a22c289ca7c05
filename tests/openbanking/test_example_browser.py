"""The example third-party app as its own process (``python -m thirdparty_app``) against the
real server under uvicorn, with the customer's part in Chromium: sign in to the customer app
(password, then TOTP), then either open the app's authorisation URL, or start in the app store
and press Connect (the bank sends the browser to the app's ``/connect``, the app pushes its
request and sends it on to the consent screen); choose the account, allow; the browser lands on
the app's own callback server and the app prints the balance it then read."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyotp
import pytest
from PIL import Image
from sqlalchemy import Engine
from tests.browser_support import (
    free_port,
    launch_chromium,
    serious_axe_findings,
    serve,
    watch_errors,
)
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
PHONE = "13812345678"


@dataclass
class Bank:
    platform: Platform
    base: str
    port: int
    client_id: str
    account: str
    totp: pyotp.TOTP
    redirect: str
    app_file: Path


def _bank(tmp_path: Path, engine: Engine, jwks_port: int | None = None) -> Bank:
    """A customer with a funded account and TOTP, and one approved app whose login initiation
    URI and redirect URI are the example app's own loopback server (with ``jwks_port``, its
    keys too: published by the example app at that port, not registered inline)."""
    port, callback = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    settings = settings_for(tmp_path / "data", openbanking=OpenBankingSettings(issuer=base))
    # Real time on both sides: the example app signs its proofs with its own clock.
    clock = SystemClock()
    platform = Platform(settings=settings, engine=engine, clock=clock)
    platform.use_posting_guard(StepUpGuard(platform.identity.step_up, inner=ApproveAll()))
    ids = platform.identity
    req = RegistrationRequest(
        name="张三丰", id_type="prc_resident_id", id_number="110101199003074477", phone=PHONE
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
        jwks=None if jwks_port else {"keys": [key.as_dict(private=False) | {"kid": key.kid}]},
        jwks_uri=f"http://127.0.0.1:{jwks_port}/jwks" if jwks_port else None,
        scopes=["accounts"],
        category="budgeting",
        initiate_login_uri=f"http://127.0.0.1:{callback}/connect",
    )
    platform.openbanking.apps.decide(SYSTEM, app.client_id, AppStatus.APPROVED)
    app_file = tmp_path / "app.json"
    saved = {"client_id": app.client_id, "redirect_uri": redirect,
             "key": key.as_dict(private=True) | {"kid": key.kid}}  # fmt: skip
    app_file.write_text(json.dumps(saved))
    return Bank(platform, base, port, app.client_id, account, totp, redirect, app_file)


@contextmanager
def _example_app(bank: Bank, *extra: str) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "thirdparty_app", "--bank", bank.base,
         "--app-file", str(bank.app_file), *extra],
        cwd=EXAMPLES, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        yield proc
    finally:
        proc.kill()


def _sign_in(page: Any, bank: Bank) -> None:
    page.goto(f"{bank.base}/app/login")
    page.fill("#phone", PHONE)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit].primary")
    # The next TOTP step is accepted (one step of drift) and is not the one used at setup.
    page.fill("#code", bank.totp.at(SystemClock().now() + timedelta(seconds=30)))
    page.click("button[type=submit].primary")
    page.wait_for_selector("a[href='/app/openbanking']")  # signed in: the tab bar


def _allow(page: Any, bank: Bank) -> None:
    """On the consent screen: the app is named; choose the account, allow, land back."""
    assert "Budget Buddy" in page.content()
    page.check(f"input[value='{bank.account}']")
    page.click("button[value=approve]")
    page.wait_for_url(f"{bank.redirect}**")
    assert "Done" in page.content()


def _finished(proc: subprocess.Popen[str], bank: Bank) -> None:
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert f"current {bank.account}: 1000.00 CNY" in out


def test_example_app_process_and_consent_in_chromium(tmp_path: Path, sqlite_engine: Engine) -> None:
    """The example app publishes its key at its own JWKS URI: the bank fetches it to check the
    app's PAR and token requests."""
    from playwright.sync_api import sync_playwright

    jwks_port = free_port()
    bank = _bank(tmp_path, sqlite_engine, jwks_port)
    remote = bank.platform.openbanking.apps.remote_jwks
    with serve(bank.platform, bank.port), _example_app(bank, "--jwks-port", str(jwks_port)) as proc:
        assert proc.stdout is not None
        url = next((s for line in proc.stdout if (s := line.strip()).startswith(bank.base)), "")
        assert url, "the app printed no authorisation URL"
        with sync_playwright() as p:
            browser = launch_chromium(p)
            page = browser.new_page()
            _sign_in(page, bank)
            page.goto(url)
            _allow(page, bank)
            browser.close()
        _finished(proc, bank)
    assert remote.fetches == 1  # fetched at the PAR, the cached set served the token exchange


def _logo_shown(page: Any, client_id: str, errors: list[str]) -> None:
    """The app's logo loaded from our origin under the app's CSP, the page still passes axe
    (no serious or critical finding) and does not scroll sideways on a phone."""
    page.wait_for_load_state("networkidle")
    width = page.evaluate(f"document.querySelector(\"img[data-logo='{client_id}']\").naturalWidth")
    assert width == 64, f"{page.url}: the logo did not load ({width})"
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"{page.url} scrolls sideways by {overflow}px"
    found = serious_axe_findings(page)
    assert found == [] and errors == [], (page.url, found, errors)


def test_store_connect_and_consent_in_one_flow(tmp_path: Path, sqlite_engine: Engine) -> None:
    """Nothing typed but the customer's own login: from the store's Connect button (the app's
    logo shown there and on the consent screen, from our origin) to the app reading the
    balance."""
    from playwright.sync_api import sync_playwright

    bank = _bank(tmp_path, sqlite_engine)
    logo = io.BytesIO()
    Image.new("RGB", (64, 64), (30, 90, 160)).save(logo, "PNG")
    bank.platform.openbanking.apps.set_logo(SYSTEM, bank.client_id, logo.getvalue())
    with serve(bank.platform, bank.port), _example_app(bank, "--connect") as proc:
        assert proc.stdout is not None
        assert "Press Connect" in proc.stdout.readline()  # listening on its /connect
        with sync_playwright() as p:
            browser = launch_chromium(p)
            page = browser.new_page(viewport={"width": 390, "height": 844})
            errors: list[str] = []
            watch_errors(page, errors)
            _sign_in(page, bank)
            page.goto(f"{bank.base}/app/openbanking")
            _logo_shown(page, bank.client_id, errors)
            page.click(f"a[data-connect='{bank.client_id}']")
            page.wait_for_url(f"{bank.base}/app/openbanking/authorize**")
            _logo_shown(page, bank.client_id, errors)
            _allow(page, bank)
            browser.close()
        _finished(proc, bank)

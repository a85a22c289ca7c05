"""The demo's open-banking seeding: idempotent, the app store filled, and the saved demo key
really authenticates the demo app at the authorisation server."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from joserfc.jwk import ECKey
from tests.openbanking.conftest import ISSUER, SYSTEM
from thirdparty_app.client import ThirdPartyApp

from finbridge.cli.demo_openbanking import KEY_FILE, seed_openbanking
from finbridge.core import ManualClock, Principal
from finbridge.openbanking import AppStatus
from finbridge.platform import Platform


def test_demo_apps_seeded_once_and_usable(
    platform: Platform, client: TestClient, clock: ManualClock
) -> None:
    said: list[str] = []
    seeded = seed_openbanking(platform, said.append)
    assert seeded == "3 open-banking apps (2 approved), a sandbox app (205 postings)"
    assert seed_openbanking(platform, said.append) is None and len(said) == 1
    store = platform.openbanking.apps.list(Principal.customer("someone"))
    assert {a.status for a in store} == {AppStatus.APPROVED} and len(store) == 2  # no sandbox app
    assert [a.name for a in platform.openbanking.apps.owned(SYSTEM) if a.sandbox] == [
        "Sandbox Sketch"
    ]
    # Every demo app has its own logo, re-drawn by the engine like a developer's upload.
    logos = {a.logo for a in platform.openbanking.apps.owned(SYSTEM)}
    assert None not in logos and len(logos) == 4
    # The budgeting app has the store's Connect (the example app's --connect).
    assert [a.name for a in store if a.initiate_login_uri] == ["Budget Buddy"]
    path = platform.settings.data_dir / KEY_FILE
    assert path.stat().st_mode & 0o077 == 0
    saved = json.loads(path.read_text())
    tpp = ThirdPartyApp(
        http=client,
        base_url=ISSUER,
        client_id=saved["client_id"],
        signing_key=ECKey.import_key(saved["key"]),
        redirect_uri=saved["redirect_uri"],
        now=lambda: clock.now().timestamp(),
    )
    url, _ = tpp.push([{"type": "account_access", "permissions": ["accounts"]}], state="demo")
    assert "request_uri=urn" in url

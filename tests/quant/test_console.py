"""The console's quant page: list runs, run the demo through HTMX, open the tear sheet."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from tests.api.conftest import issue_key
from tests.web.conftest import log_in

from finbridge.core import ManualClock, Role, Settings
from finbridge.platform import Platform
from finbridge.site import create_app

HX = {"HX-Request": "true"}


def test_console_lists_runs_and_serves_tear_sheets(
    settings: Settings, sqlite_engine: Engine, clock: ManualClock
) -> None:
    platform = Platform(settings=settings, engine=sqlite_engine, clock=clock)
    client = TestClient(create_app(platform=platform))
    assert client.get("/console/quant", follow_redirects=False).status_code in (302, 303, 307)
    log_in(client, issue_key(platform, [Role.ADMIN]))
    page = client.get("/console/quant")
    assert page.status_code == 200 and "No backtest yet." in page.text
    assert client.post("/console/quant/demo").status_code in (400, 403)  # not HTMX: refused
    fragment = client.post("/console/quant/demo", headers=HX)
    assert fragment.status_code == 200, fragment.text
    link = re.search(r'href="(/console/quant/runs/[^"]+/tearsheet)"', fragment.text)
    assert link is not None and "succeeded" in fragment.text
    sheet = client.get(link.group(1))
    assert sheet.status_code == 200 and "Cumulative return" in sheet.text
    assert 'href="/console/quant"' in client.get("/console/quant").text  # in the navigation

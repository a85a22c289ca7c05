"""The console's lending pages: portfolio, a line with statements and chart, the COB page."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from tests.api.conftest import issue_key
from tests.lending.conftest import OPS, cny
from tests.web.conftest import log_in

from finbridge.banking import AccountKind
from finbridge.core import Role
from finbridge.platform import Platform
from finbridge.site import create_app

HX = {"HX-Request": "true"}


def _line_with_a_statement(platform: Platform) -> str:
    bank, lending = platform.banking, platform.lending
    cust = bank.create_customer(OPS, kind="personal", display_name="Lin").id
    acc = bank.open_account(OPS, cust, kind=AccountKind.CURRENT, currency_code="CNY").id
    app = lending.apply(OPS, cust, product_id="everyday@1", deposit_account_id=acc,
                        income_band="low", applicant={}, idempotency_key="a")  # fmt: skip
    assert app.line_id is not None
    p = lending.authorise_purchase(OPS, app.line_id, cny("88.00"), merchant="JD",
                                   idempotency_key="p")  # fmt: skip
    lending.capture_purchase(OPS, p.id, idempotency_key="c")
    platform.clock.set(datetime(2026, 2, 6, 2, 0, tzinfo=UTC))  # type: ignore[attr-defined]
    return app.line_id


def _statement_of(platform: Platform, line_id: str) -> str:
    return platform.lending.statements(OPS, line_id)[0].id


def test_lending_pages(platform: Platform) -> None:
    line_id = _line_with_a_statement(platform)
    client = TestClient(create_app(platform=platform))
    log_in(client, issue_key(platform, [Role.CREDIT_OFFICER]))
    cob = client.get("/console/lending/cob")
    assert cob.status_code == 200 and "No day closed yet." in cob.text
    assert client.post("/console/lending/cob/run").status_code in (400, 403)  # not HTMX
    ran = client.post("/console/lending/cob/run", headers=HX)
    assert ran.status_code == 200, ran.text
    assert "Closed 31 day(s)." in ran.text and "2026-02-05" in ran.text

    index = client.get("/console/lending")
    assert index.status_code == 200
    assert line_id[:13] in index.text and "data-echarts" in index.text
    assert 'href="/console/lending"' in index.text  # in the navigation

    page = client.get(f"/console/lending/lines/{line_id}")
    assert page.status_code == 200
    assert "2026-02-05" in page.text and "88.00" in page.text
    assert "No instalment plan on this line." in page.text and "Not reviewed yet" in page.text
    assert "Review the limit now" in page.text
    reviewed = client.post(f"/console/lending/lines/{line_id}/review", headers=HX)
    assert reviewed.status_code == 200 and 'id="limit-reviews"' in reviewed.text
    assert "kept" in reviewed.text and "Not reviewed yet" not in reviewed.text
    assert len(platform.lending.reviews.reviews(OPS, line_id)) == 1
    platform.lending.instalments.convert(OPS, "statement", _statement_of(platform, line_id), 3)
    page = client.get(f"/console/lending/lines/{line_id}")
    assert "88.00 in 3 periods" in page.text and "kept" in page.text
    link = re.search(r'hx-get="(/console/lending/statements/[^"]+/reconciliation)"', page.text)
    assert link is not None
    rec = client.get(link.group(1), headers=HX)
    assert rec.status_code == 200 and "reconciled (1 postings)" in rec.text

    quant = TestClient(create_app(platform=platform))
    log_in(quant, issue_key(platform, [Role.QUANT_RESEARCHER]))
    assert quant.get("/console/lending").status_code == 403

"""The customer app's credit-line page and home card: own lines only, in Chinese."""

from __future__ import annotations

from fastapi.testclient import TestClient
from tests.app.conftest import (  # noqa: F401 - fixtures used by name
    Customer,
    client,
    li,
    platform,
    signed_in,
    zhang,
)

from finbridge.core import Principal
from finbridge.core.money import Money
from finbridge.platform import Platform

OPS = Principal.system("test")


def test_a_customer_sees_their_own_line(
    platform: Platform,  # noqa: F811 - the fixture imported above
    signed_in: TestClient,  # noqa: F811
    zhang: Customer,  # noqa: F811
    li: Customer,  # noqa: F811
) -> None:
    lending = platform.lending
    lending.install_catalogue(OPS)
    mine = lending.grant_line(
        OPS, zhang.id, product_id="everyday@1", limit=Money.of("3000", "CNY"),
        deposit_account_id=zhang.current, reason="test", idempotency_key="z",
    ).line_id  # fmt: skip
    theirs = lending.grant_line(
        OPS, li.id, product_id="everyday@1", limit=Money.of("3000", "CNY"),
        deposit_account_id=li.current, reason="test", idempotency_key="l",
    ).line_id  # fmt: skip
    assert mine and theirs
    page = signed_in.get("/app/lending")
    assert page.status_code == 200
    assert mine[-6:] in page.text and theirs[-6:] not in page.text
    assert "信用额度" in page.text  # Chinese by default
    assert signed_in.get(f"/app/lending/{mine}").status_code == 200
    assert signed_in.get(f"/app/lending/{theirs}").status_code == 404
    home = signed_in.get("/app")
    assert f"/app/lending/{mine}" in home.text  # the home card

"""The platform's default posting guard: the risk engine decides, identity handles step-up."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from tests.api.conftest import Api

from finbridge.lake.tables import OutboxRow
from finbridge.platform import Platform
from finbridge.store import unit_of_work


def _risk_decisions(platform: Platform) -> list[dict[str, Any]]:
    with unit_of_work(platform.engine, write=False) as session:
        rows = session.scalars(
            select(OutboxRow.payload).where(OutboxRow.event_type == "risk.decision")
        ).all()
    return list(rows)


def test_every_api_transfer_is_decided_by_the_risk_engine(
    admin: Api, api_platform: Platform
) -> None:
    src = admin.account(admin.customer("Ada"))
    dst = admin.account(admin.customer("Bob"))
    admin.deposit(src, "1000.00")
    before = len(_risk_decisions(api_platform))
    response = admin.post(
        "/v1/transfers",
        json={"from_account_id": src, "to_account_id": dst, "amount": "500.00", "currency": "CNY"},
        headers={"Idempotency-Key": "guarded-1"},
    )
    decisions = _risk_decisions(api_platform)
    assert len(decisions) == before + 1, "the transfer did not reach the risk engine"
    outcome = decisions[-1]["outcome"]
    if outcome in ("approve", "review"):
        assert response.status_code == 201, response.text
    else:
        # Refused before posting: a clear problem with the engine's reasons, and no money moved.
        assert response.status_code in (403, 422), response.text
        assert response.json()["reasons"]
        assert admin.get(f"/v1/accounts/{src}/balance").json()["available"]["amount"] == "1000.00"


def test_a_retried_transfer_returns_the_first_result_without_a_second_decision(
    admin: Api, api_platform: Platform
) -> None:
    src = admin.account(admin.customer("Ada"))
    dst = admin.account(admin.customer("Bob"))
    admin.deposit(src, "100.00")
    body = {"from_account_id": src, "to_account_id": dst, "amount": "100.00", "currency": "CNY"}
    first = admin.post("/v1/transfers", json=body, headers={"Idempotency-Key": "retry-1"})
    decided = len(_risk_decisions(api_platform))
    again = admin.post("/v1/transfers", json=body, headers={"Idempotency-Key": "retry-1"})
    # Idempotency first: the retry is answered from the stored entry (or refused the same way
    # if the first was refused), and the risk engine is not asked again.
    assert len(_risk_decisions(api_platform)) == decided
    if first.status_code == 201:
        assert again.status_code in (200, 201), again.text
        assert again.json()["entry_id"] == first.json()["entry_id"]
        assert admin.balance(dst) == "100.00"

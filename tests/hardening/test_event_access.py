"""Who reads which events: operators by role, customers their own, partners their own files'
events and, only with a customer's data-sharing consent, that customer's agreed event types."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from fastapi.testclient import TestClient

from finbridge.core import Money, Principal, Role
from finbridge.lake import EventService
from finbridge.platform import Platform
from finbridge.site import create_app

T = "2026-11-01T08:00:00+00:00"
SYSTEM = Principal.system("test")


def _feed(tag: str, subjects: list[str]) -> bytes:
    rows = [
        {
            "id": f"{tag}-{i}",
            "event_type": "app.opened",
            "schema_version": 1,
            "occurred_at": T,
            "subject_id": subject,
            "payload": {"app_version": "5.1.0", "platform": "android"},
        }
        for i, subject in enumerate(subjects)
    ]
    return ("\n".join(json.dumps(r) for r in rows) + "\n").encode()


@pytest.fixture
def world(lite_platform: Platform) -> dict[str, object]:
    """Two customers with postings, two partners with one file each, keys for every role."""
    p = lite_platform
    bank = p.banking
    customers = []
    for name in ("c1", "c2"):
        cid = bank.create_customer(SYSTEM, kind="personal", display_name=name).id
        acc = bank.open_account(SYSTEM, cid, kind="current", currency_code="CNY").id
        bank.deposit(SYSTEM, acc, Money.of("10", "CNY"), idempotency_key=f"d-{name}")
        customers.append(cid)
    keys = {role.value: p.api_keys.issue(role.value, [role]) for role in Role}
    partner_b = p.api_keys.issue("partner b", [Role.PARTNER])
    client = TestClient(create_app(platform=p))
    reports = {}
    for name, key in (("a", keys["partner"]), ("b", partner_b)):
        r = client.post(
            "/v1/events/ingest",
            headers={"Authorization": f"Bearer {key.plaintext}"},
            files={"file": (f"{name}.jsonl", _feed(name, customers), "application/x-ndjson")},
        )
        assert r.status_code == 200, r.text
        reports[name] = r.json()
    p.events.relay(SYSTEM)
    return {
        "client": client,
        "keys": keys,
        "b": partner_b,
        "customers": customers,
        "reports": reports,
    }


def _read(world: dict, plaintext: str, **params: str) -> tuple[int, Counter]:  # type: ignore[type-arg]
    client: TestClient = world["client"]  # type: ignore[assignment]
    r = client.get("/v1/events", params={"limit": "1000", **params},
                   headers={"Authorization": f"Bearer {plaintext}"})  # fmt: skip
    if r.status_code != 200:
        return r.status_code, Counter()
    return 200, Counter((e["event_type"], e["source"], e["subject_id"]) for e in r.json())


def test_operators_read_by_role(world: dict) -> None:  # type: ignore[type-arg]
    keys = world["keys"]
    status, everything = _read(world, keys["admin"].plaintext)
    assert status == 200
    kinds = {k for k, _, _ in everything}
    assert {"app.opened", "transaction.posted", "customer.created", "account.opened"} <= kinds
    sources = {s for _, s, _ in everything}
    assert len([s for s in sources if s.startswith("partner:")]) == 2
    for role in ("teller", "risk_analyst", "quant_researcher"):
        assert _read(world, keys[role].plaintext) == (200, everything), role
    assert _read(world, keys["credit_officer"].plaintext)[0] == 403


def test_a_partner_reads_only_its_own_files_events(world: dict) -> None:  # type: ignore[type-arg]
    partner = world["keys"]["partner"]
    status, seen = _read(world, partner.plaintext)
    assert status == 200
    assert set(seen) == {("app.opened", f"partner:{partner.key.id}", c) for c in world["customers"]}
    for event_type in ("transaction.posted", "customer.created", "account.opened", "app.opened"):
        _, typed = _read(world, partner.plaintext, type=event_type)
        assert all(src == f"partner:{partner.key.id}" for _, src, _ in typed), event_type
    # Another partner's subject filter changes nothing: still only its own rows.
    _, filtered = _read(world, partner.plaintext, subject=world["customers"][0])
    assert {src for _, src, _ in filtered} == {f"partner:{partner.key.id}"}


def test_consent_shares_the_agreed_types_of_that_customer_only(
    world: dict,
    lite_platform: Platform,  # type: ignore[type-arg]
) -> None:
    partner = world["keys"]["partner"]
    c1, c2 = world["customers"]
    consents = lite_platform.identity.consents
    grant = consents.grant(
        Principal.customer(c1), c1, f"data_sharing:{partner.key.id}", ["transaction.posted"]
    )
    _, seen = _read(world, partner.plaintext)
    shared = {k for k in seen if not k[1].startswith("partner:")}
    assert shared == {("transaction.posted", "banking", c1)}
    # Another partner gets nothing from that consent.
    _, other = _read(world, world["b"].plaintext)
    assert {s for _, s, _ in other} == {f"partner:{world['b'].key.id}"}
    consents.withdraw(Principal.customer(c1), c1, grant.id)
    _, after = _read(world, partner.plaintext)
    assert all(src.startswith("partner:") for _, src, _ in after)
    assert c2  # c2 never consented: never shared


def test_customers_read_their_own(world: dict, lite_platform: Platform) -> None:  # type: ignore[type-arg]
    c1 = world["customers"][0]
    service: EventService = lite_platform.events
    events = service.list_events(Principal.customer(c1), limit=1000)
    assert events and {e.subject_id for e in events} == {c1}


def test_ingestion_reports_are_operators_or_their_own_partners(world: dict) -> None:  # type: ignore[type-arg]
    client: TestClient = world["client"]
    keys, reports = world["keys"], world["reports"]

    def get(key: str, url: str) -> object:
        return client.get(url, headers={"Authorization": f"Bearer {key}"})

    mine = get(keys["partner"].plaintext, "/v1/events/ingestions").json()
    assert [r["id"] for r in mine] == [reports["a"]["id"]]
    other = get(keys["partner"].plaintext, f"/v1/events/ingestions/{reports['b']['id']}")
    assert other.status_code == 404
    assert len(get(keys["teller"].plaintext, "/v1/events/ingestions").json()) == 2
    assert get(keys["credit_officer"].plaintext, "/v1/events/ingestions").status_code == 403

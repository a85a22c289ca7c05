"""Developers (partners' API keys) register apps that wait for an operator, and manage only
their own apps' webhooks and delivery log; the app store shows customers approved apps only."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from tests.api.conftest import issue_key
from thirdparty_app.client import new_key

from finbridge.core import Principal, Role
from finbridge.platform import Platform


def _app(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "developer": f"{name} Ltd",
        "category": "budgeting",
        "redirect_uris": [f"https://{name.lower()}.example/cb"],
        "scopes": ["accounts"],
        "jwks": {"keys": [new_key().as_dict(private=False)]},
    }


def test_register_approve_and_manage_own_apps_only(platform: Platform, client: TestClient) -> None:
    dev_a = {"X-API-Key": issue_key(platform, [Role.PARTNER], "dev a")}
    dev_b = {"X-API-Key": issue_key(platform, [Role.PARTNER], "dev b")}
    admin = {"X-API-Key": issue_key(platform, [Role.ADMIN], "ops")}
    a = client.post("/v1/openbanking/apps", json=_app("Alpha"), headers=dev_a)
    assert a.status_code == 201 and a.json()["status"] == "pending"
    alpha = a.json()["client_id"]
    beta = client.post("/v1/openbanking/apps", json=_app("Beta"), headers=dev_b).json()["client_id"]

    assert client.post(f"/v1/openbanking/apps/{alpha}/approve", headers=dev_a).status_code == 403
    listed = client.get("/v1/openbanking/apps", headers=dev_a).json()
    assert [x["client_id"] for x in listed] == [alpha]  # its own pending app, not B's
    assert client.post(f"/v1/openbanking/apps/{alpha}/approve", headers=admin).status_code == 200

    url = {"url": "https://alpha.example/hooks"}
    secret = client.put(f"/v1/openbanking/apps/{alpha}/webhook", json=url, headers=dev_a)
    assert secret.status_code == 200 and secret.json()["secret"].startswith("whsec_")
    other = client.put(f"/v1/openbanking/apps/{beta}/webhook", json=url, headers=dev_a)
    assert other.status_code == 404  # B's app does not exist for A
    assert (
        client.post(f"/v1/openbanking/apps/{beta}/webhook/rotate", headers=dev_a).status_code == 404
    )
    assert client.get("/v1/openbanking/deliveries", headers=dev_b).json() == []

    store = platform.openbanking.apps.list(Principal.customer("c"))
    assert [x.name for x in store] == ["Alpha"]
    refused = client.post(
        "/v1/openbanking/apps",
        json=_app("Gamma") | {"redirect_uris": ["http://gamma.example/cb"]},
        headers=dev_a,
    )
    assert refused.status_code == 422 and refused.json()["field"] == "redirect_uris"

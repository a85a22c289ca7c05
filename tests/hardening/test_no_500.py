"""No input makes a 500: one rule for text (NUL, control characters, lone surrogates), 64-bit
integers and JSON nesting, on both databases, with the field named; 405s carry ``Allow``; the
OpenAPI description documents the problem documents the API sends."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from tests.api.conftest import Api

from finbridge.core.errors import ValidationError
from finbridge.core.inputs import MAX_JSON_DEPTH, check_json_bytes, first_problem, json_depth
from finbridge.gateway import create_gateway
from finbridge.platform import Platform

from .conftest import admin_of

BAD_TEXT = ["a\x00b", "tab\x01", "del\x7f", "c1\x85", "\ud800"]


def _problem(r, status: int = 422) -> dict:  # type: ignore[no-untyped-def, type-arg]
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    return r.json()  # type: ignore[no-any-return]


def _post(admin: Api, url: str, body: object) -> Any:
    # \u escapes (json.dumps' default): a lone surrogate has no UTF-8 form to send raw.
    headers = {"content-type": "application/json"}
    return admin.post(url, content=json.dumps(body), headers=headers)


def test_bad_text_in_a_body_is_refused_naming_the_field(both_platform: Platform) -> None:
    admin = admin_of(both_platform)
    for bad in BAD_TEXT:
        r = _post(admin, "/v1/customers", {"kind": "personal", "display_name": bad})
        assert _problem(r)["field"] == "display_name"
        nested = _post(
            admin,
            "/v1/risk/rule-sets",
            {"name": "x", "rules": [{"name": "r", "expression": "amount > 1", "reason": bad}]},
        )
        assert _problem(nested)["field"] == "rules.0.reason"
    assert admin.get("/v1/customers").json()["items"] == []


def test_bad_text_in_query_and_path_is_refused(both_platform: Platform) -> None:
    admin = admin_of(both_platform)
    for bad in ("\x00", "\x1b[31m"):
        assert _problem(admin.get("/v1/events", params={"type": bad}))["field"] == "type"
        quoted = quote(bad, safe="")
        assert _problem(admin.get(f"/v1/accounts/{quoted}"))["field"] == "account_id"
        assert _problem(admin.get(f"/v1/risk/decisions/{quoted}"))["field"] == "event_id"


def test_integers_beyond_64_bits_are_refused(both_platform: Platform) -> None:
    admin = admin_of(both_platform)
    path = "/v1/credit/models/x/versions/99999999999999999999/promote"
    assert _problem(admin.post(path))["field"] == "version"
    body = {"kind": "personal", "display_name": "A", "n": -(10**30)}
    assert _problem(admin.post("/v1/customers", json=body))["field"] == "n"
    assert _problem(admin.get("/v1/events", params={"limit": "9" * 25}))["field"] == "limit"


def test_deep_json_on_the_decision_endpoint_is_a_422(both_platform: Platform) -> None:
    admin = admin_of(both_platform)
    deep = b'{"a":' * 5000 + b"1" + b"}" * 5000
    for body in (deep, b"[" * 100_000 + b"]" * 100_000):
        r = admin.post(
            "/v1/risk/decisions", content=body, headers={"content-type": "application/json"}
        )
        assert _problem(r)["field"] == "body"


def test_the_gateway_applies_the_same_rule(lite_platform: Platform) -> None:
    key = admin_of(lite_platform).headers
    client = TestClient(create_gateway(lite_platform))
    deep = b"[" * 20_000 + b"]" * 20_000
    r = client.post(
        "/v1/risk/decisions", content=deep, headers={**key, "content-type": "application/json"}
    )
    assert _problem(r)["field"] == "body"
    nul = client.post(
        "/v1/risk/decisions",
        json={"event_type": "login", "customer_id": "c\x00"},
        headers=key,
    )
    assert _problem(nul)["field"] == "customer_id"
    wrong = client.get("/v1/risk/decisions", headers=key)
    assert _problem(wrong, 405)["code"] == "method_not_allowed"
    assert wrong.headers["allow"] == "POST"
    assert client.get("/ready").json() in ({"status": "starting"}, {"status": "ready"})


def test_405_carries_allow(lite_platform: Platform) -> None:
    admin = admin_of(lite_platform)
    r = admin.client.put("/v1/customers", headers=admin.headers)
    _problem(r, 405)
    assert set(r.headers["allow"].split(", ")) == {"GET", "POST"}


def test_ready_reveals_no_dialect(both_platform: Platform) -> None:
    admin = admin_of(both_platform)
    assert admin.client.get("/ready").json() == {"status": "ready"}


def test_openapi_documents_the_problem_documents(lite_platform: Platform) -> None:
    schema = admin_of(lite_platform).client.get("/openapi.json").json()
    assert "Problem" in schema["components"]["schemas"]
    operations = [
        op for path, ops in schema["paths"].items() if path.startswith("/v1") for op in ops.values()
    ]
    assert len(operations) > 50
    for op in operations:
        for status in ("401", "403", "404", "409", "413", "422", "429"):
            content = op["responses"][status]["content"]
            assert list(content) == ["application/problem+json"], (op["operationId"], status)
        assert "Retry-After" in op["responses"]["429"]["headers"]


def test_the_rule_itself() -> None:
    assert first_problem({"a": [1, {"b": "ok\n\t"}]}) is None
    assert first_problem({"a": [1, {"b": "x\x00"}]}) == (
        "a.1.b",
        "contains a control character (U+0000)",
    )
    assert first_problem({"k\x00": 1})[0] == "body"  # type: ignore[index]
    assert first_problem([2**63]) == ("0", "integer out of range (64-bit)")
    assert json_depth(b'["[[[[", [[1]]]') == 3
    assert (
        json_depth(b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1)) == MAX_JSON_DEPTH + 1
    )
    check_json_bytes(b'{"name": "plain", "n": 12}')  # nothing suspicious: not even parsed
    with pytest.raises(ValidationError) as err:
        check_json_bytes(b'{"name": "bad\\u0000"}')
    assert err.value.field == "name"

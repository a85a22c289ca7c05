"""Identity over HTTP: register -> login -> TOTP -> second factor -> customer token on the
banking API; BOLA, tampered and expired tokens, problem+json naming the field."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from finbridge.core import ManualClock, Role, Settings
from finbridge.identity.apikeys import ApiKeyService
from finbridge.platform import Platform
from finbridge.site import create_app

ZHANG = {
    "name": "张三丰",
    "id_type": "prc_resident_id",
    "id_number": "110101199003074477",
    "phone": "13812345678",
    "password": "correct horse battery",
}
LI = {**ZHANG, "name": "李小龙", "id_number": "310115198702141238", "phone": "13912345678"}


@pytest.fixture
def platform(settings: Settings, sqlite_engine: Engine, clock: ManualClock) -> Platform:
    return Platform(settings=settings, engine=sqlite_engine, clock=clock)


@pytest.fixture
def client(platform: Platform) -> TestClient:
    return TestClient(create_app(platform=platform))


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _register_and_login(client: TestClient, body: dict) -> tuple[str, dict[str, str]]:
    r = client.post("/v1/identity/register", json=body)
    assert r.status_code == 201, r.text
    r = client.post(
        "/v1/identity/login", json={"phone": body["phone"], "password": body["password"]}
    )
    assert r.status_code == 200, r.text
    return r.json()["tokens"]["access_token"], r.json()["tokens"]


def test_register_masks_and_creates_banking_customer(
    client: TestClient, platform: Platform
) -> None:
    r = client.post("/v1/identity/register", json={**ZHANG, "card_number": "6222021234567890128"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["id_number"] == "110***********4477" and body["phone"] == "138****5678"
    assert body["cards"] == ["622202*********0128"] and body["factors"] == ["password"]
    assert "13812345678" not in r.text and "110101199003074477" not in r.text
    key = (
        ApiKeyService(
            platform.engine, platform.clock, platform.settings.secret_key.get_secret_value()
        )
        .issue("teller", [Role.TELLER])
        .plaintext
    )
    banking = client.get(f"/v1/customers/{body['customer_id']}", headers=_bearer(key))
    assert banking.status_code == 200 and banking.json()["display_name"] == "张**"


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"id_number": "110101199003074478"}, "id_number"),
        ({"phone": "12345"}, "phone"),
        ({"password": "short"}, "password"),
        ({"card_number": "6222021234567890127"}, "card_number"),
        ({"id_number": "110101199002304471"[:17] + "0"}, "id_number"),
    ],
)
def test_bad_registration_is_problem_json_naming_field(
    client: TestClient, patch: dict, field: str
) -> None:
    r = client.post("/v1/identity/register", json={**ZHANG, **patch})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["field"] == field


def test_full_login_with_totp_and_customer_token(client: TestClient, clock: ManualClock) -> None:
    token, _ = _register_and_login(client, ZHANG)
    setup = client.post("/v1/identity/totp/setup", headers=_bearer(token)).json()
    totp = pyotp.TOTP(setup["secret"])
    r = client.post(
        "/v1/identity/totp/confirm", headers=_bearer(token), json={"code": totp.at(clock.now())}
    )
    assert r.status_code == 200 and len(r.json()["recovery_codes"]) == 10
    clock.advance(timedelta(seconds=30))
    r = client.post(
        "/v1/identity/login", json={"phone": ZHANG["phone"], "password": ZHANG["password"]}
    )
    step = r.json()
    assert step["tokens"] is None and "totp" in step["methods"]
    code = totp.at(clock.now())
    r = client.post(
        "/v1/identity/login/second-factor",
        json={"challenge": step["challenge"], "method": "totp", "code": code},
    )
    assert r.status_code == 200, r.text
    access = r.json()["access_token"]
    me = client.get("/v1/identity/me", headers=_bearer(access))
    assert me.status_code == 200 and me.json()["factors"] == ["password", "totp"]
    sessions = client.get("/v1/identity/sessions", headers=_bearer(access)).json()
    assert len(sessions) == 2 and sum(s["current"] for s in sessions) == 1
    # replayed TOTP code in a new login: refused, clearly
    step2 = client.post(
        "/v1/identity/login", json={"phone": ZHANG["phone"], "password": ZHANG["password"]}
    ).json()
    r = client.post(
        "/v1/identity/login/second-factor",
        json={"challenge": step2["challenge"], "method": "totp", "code": code},
    )
    assert r.status_code == 401 and r.json()["field"] == "code"
    # refresh then logout
    refresh_token = _refresh(client, step2, totp, clock)
    refreshed = client.post("/v1/identity/token/refresh", json={"refresh_token": refresh_token})
    assert refreshed.status_code == 200
    assert client.post("/v1/identity/logout", headers=_bearer(access)).status_code == 204
    assert client.get("/v1/identity/me", headers=_bearer(access)).status_code == 401


def _refresh(client: TestClient, step: dict, totp: pyotp.TOTP, clock: ManualClock) -> str:
    clock.advance(timedelta(seconds=30))
    r = client.post(
        "/v1/identity/login/second-factor",
        json={"challenge": step["challenge"], "method": "totp", "code": totp.at(clock.now())},
    )
    assert r.status_code == 200, r.text
    return str(r.json()["refresh_token"])


def test_bola_and_token_attacks(client: TestClient, platform: Platform, clock: ManualClock) -> None:
    token, _ = _register_and_login(client, ZHANG)
    li_token, _ = _register_and_login(client, LI)
    li_id = client.get("/v1/identity/me", headers=_bearer(li_token)).json()["customer_id"]
    me_id = client.get("/v1/identity/me", headers=_bearer(token)).json()["customer_id"]
    # another customer's id in the URL: 404, and audited
    for url in (f"/v1/identity/customers/{li_id}", f"/v1/identity/customers/{li_id}/consents"):
        r = client.get(url, headers=_bearer(token))
        assert r.status_code == 404, (url, r.text)
    # banking with a customer token: own customer record and accounts yes, another's no
    assert client.get(f"/v1/customers/{me_id}", headers=_bearer(token)).status_code == 200
    assert client.get(f"/v1/customers/{li_id}", headers=_bearer(token)).status_code in (403, 404)
    teller = ApiKeyService(
        platform.engine, platform.clock, platform.settings.secret_key.get_secret_value()
    ).issue("t", [Role.TELLER])
    li_account = client.post(
        "/v1/accounts",
        headers=_bearer(teller.plaintext),
        json={"customer_id": li_id, "kind": "current", "currency": "CNY"},
    )
    assert li_account.status_code == 201, li_account.text
    account_id = li_account.json()["id"]
    assert client.get(f"/v1/accounts/{account_id}", headers=_bearer(li_token)).status_code == 200
    r = client.get(f"/v1/accounts/{account_id}", headers=_bearer(token))
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    # tampered and expired tokens
    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    assert client.get("/v1/identity/me", headers=_bearer(tampered)).status_code == 401
    clock.advance(timedelta(minutes=10))
    r = client.get("/v1/identity/me", headers=_bearer(token))
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"

    audit = platform.identity.audit
    actions = {(e.action, e.outcome) for e in audit.entries(limit=50)}
    assert ("access.denied", "refused") in actions and ("token.verify", "refused") in actions
    assert audit.verify().ok


def test_brute_force_over_http_locks(client: TestClient) -> None:
    client.post("/v1/identity/register", json=ZHANG)
    codes = [
        client.post(
            "/v1/identity/login", json={"phone": ZHANG["phone"], "password": f"guess number {i}"}
        ).status_code
        for i in range(6)
    ]
    assert codes == [401] * 5 + [429]
    r = client.post(
        "/v1/identity/login", json={"phone": ZHANG["phone"], "password": ZHANG["password"]}
    )
    assert r.status_code == 429 and r.json()["retry_after"] > 0


def test_passkey_ceremonies_over_http(client: TestClient) -> None:
    from .softauthn import SoftAuthenticator

    token, _ = _register_and_login(client, ZHANG)
    auth = SoftAuthenticator()
    options = client.post("/v1/identity/passkeys/register/options", headers=_bearer(token)).json()
    r = client.post(
        "/v1/identity/passkeys/register",
        headers=_bearer(token),
        json={"credential": auth.create(options, fmt="packed"), "label": "laptop"},
    )
    assert r.status_code == 201, r.text
    step = client.post(
        "/v1/identity/login", json={"phone": ZHANG["phone"], "password": ZHANG["password"]}
    ).json()
    assert step["methods"] == ["passkey"]
    request = client.post(
        "/v1/identity/login/passkey/options", json={"challenge": step["challenge"]}
    ).json()
    wrong = auth.get(request, origin="https://evil.example")
    r = client.post(
        "/v1/identity/login/passkey", json={"challenge": step["challenge"], "credential": wrong}
    )
    assert r.status_code == 401
    request = client.post(
        "/v1/identity/login/passkey/options", json={"challenge": step["challenge"]}
    ).json()
    r = client.post(
        "/v1/identity/login/passkey",
        json={"challenge": step["challenge"], "credential": auth.get(request)},
    )
    assert r.status_code == 200, r.text
    assert r.json()["access_token"].count(".") == 2


def test_face_over_http(client: TestClient) -> None:
    from .faces import frames_for, photo

    token, _ = _register_and_login(client, ZHANG)
    me = client.get("/v1/identity/me", headers=_bearer(token)).json()["customer_id"]
    r = client.post(
        f"/v1/identity/customers/{me}/consents",
        headers=_bearer(token),
        json={"purpose": "biometric_face", "scope": ["face_template"]},
    )
    assert r.status_code == 201, r.text
    bad = [
        (b"not an image at all", 422, "image"),
        (photo("obama_a.jpg")[:5000], 422, "image"),
        (photo("two_people.jpg"), 422, "image"),
        (b"\xff\xd8\xff" + b"\0" * (9 * 1024 * 1024), 413, "image"),
    ]
    for data, code, field in bad:
        r = client.post(
            "/v1/identity/face/enrol",
            headers=_bearer(token),
            files={"image": ("f.jpg", data, "image/jpeg")},
        )
        assert r.status_code == code, r.text
        assert r.json()["field"] == field
    r = client.post(
        "/v1/identity/face/enrol",
        headers=_bearer(token),
        files={"image": ("me.jpg", photo("obama_a.jpg"), "image/jpeg")},
    )
    assert r.status_code == 204, r.text
    ch = client.post("/v1/identity/face/liveness/challenge", headers=_bearer(token)).json()
    files = [
        ("frames", (f"{i}.jpg", f, "image/jpeg")) for i, f in enumerate(frames_for(ch["steps"]))
    ]
    r = client.post(
        "/v1/identity/face/verify",
        headers=_bearer(token),
        data={"challenge_id": ch["challenge_id"]},
        files=files,
    )
    assert r.status_code == 200, r.text
    assert r.json()["passed"] and r.json()["observed"] == ch["steps"]


def test_kyc_check_for_operators(client: TestClient, platform: Platform) -> None:
    key = (
        ApiKeyService(
            platform.engine, platform.clock, platform.settings.secret_key.get_secret_value()
        )
        .issue("teller", [Role.TELLER])
        .plaintext
    )
    body = {k: v for k, v in ZHANG.items() if k != "password"}
    r = client.post("/v1/identity/kyc/check", headers=_bearer(key), json=body)
    assert r.status_code == 200, r.text
    assert r.json()["id_number"] == "110***********4477" and r.json()["adult"] is True
    minor = {**body, "id_number": "110101201001010015", "credit_product": True}
    r = client.post("/v1/identity/kyc/check", headers=_bearer(key), json=minor)
    assert r.status_code == 422 and r.json()["field"] == "birth_date"
    r = client.post("/v1/identity/kyc/check", json=body)  # no credentials
    assert r.status_code == 401
    r = client.post("/v1/identity/kyc/check", headers=_bearer(key), json={**body, "extra": 1})
    assert r.status_code == 422 and r.json()["field"] == "extra"

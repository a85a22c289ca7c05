"""Security (TOTP set-up, sessions with end buttons, recent sign-ins) and privacy (consents,
withdraw, download all my data, correction and deletion requests)."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import timedelta

import pyotp
from fastapi.testclient import TestClient

from finbridge.app.msgids import RETENTION
from finbridge.core import ManualClock, Principal, Role
from finbridge.identity import RETENTION_NOTE
from finbridge.platform import Platform

from .conftest import LI, PASSWORD, Customer, csrf_of, sign_in


def _session_of(platform: Platform, client: TestClient) -> str:
    principal = platform.identity.authenticate(client.cookies["finbridge_app"])
    assert principal.session_id
    return principal.session_id


def test_sessions_listed_and_ended(
    signed_in: TestClient, platform: Platform, zhang: Customer, clock: ManualClock
) -> None:
    phone = TestClient(signed_in.app)
    sign_in(phone, clock, zhang)  # a second device
    page = signed_in.get("/app/security")
    assert page.status_code == 200 and page.text.count("/end") == 2
    assert "本设备" in page.text
    phone_session = _session_of(platform, phone)
    r = signed_in.post(
        f"/app/security/sessions/{phone_session}/end",
        data={"csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/app/security"
    assert phone.get("/app", follow_redirects=False).status_code == 303  # signed out there
    assert signed_in.get("/app").status_code == 200  # still signed in here
    sign_ins = platform.identity.status.sign_ins(zhang.principal, zhang.id)
    assert len(sign_ins) >= 2 and {e.outcome for e in sign_ins} == {"success"}
    # Ending this browser's own session signs it out.
    me = _session_of(platform, signed_in)
    token = csrf_of(signed_in.get("/app/security").text)
    out = signed_in.post(
        f"/app/security/sessions/{me}/end", data={"csrf_token": token}, follow_redirects=False
    )
    assert out.headers["location"] == "/app/login"
    assert signed_in.get("/app", follow_redirects=False).status_code == 303


def test_failed_sign_in_shows_in_recent_sign_ins(
    client: TestClient, platform: Platform, zhang: Customer, clock: ManualClock
) -> None:
    page = client.get("/app/login")
    client.post(
        "/app/login",
        data={
            "phone": zhang.req.phone,
            "password": "wrong password",
            "csrf_token": csrf_of(page.text),
        },
    )
    clock.advance(timedelta(minutes=5))  # past the lockout back-off
    sign_in(client, clock, zhang)
    text = client.get("/app/security").text
    assert "失败" in text and "成功" in text


def test_totp_set_up_from_the_app(
    client: TestClient, platform: Platform, clock: ManualClock
) -> None:
    cid = platform.identity.persons.register(LI, password=PASSWORD).customer_id
    page = client.get("/app/login")
    r = client.post(
        "/app/login",
        data={"phone": LI.phone, "password": PASSWORD, "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert r.status_code == 303  # no second factor yet: signed in with the password
    sec = client.get("/app/security")
    assert "设置身份验证器应用" in sec.text
    setup = client.post("/app/security/totp", data={"csrf_token": csrf_of(sec.text)})
    assert 'src="data:image/svg+xml' in setup.text
    secret = setup.text.split("<code>")[1].split("</code>")[0]
    wrong = client.post(
        "/app/security/totp/confirm", data={"csrf_token": csrf_of(setup.text), "code": "123456"}
    )
    assert wrong.status_code == 401
    done = client.post(
        "/app/security/totp/confirm",
        data={"csrf_token": csrf_of(setup.text), "code": pyotp.TOTP(secret).at(clock.now())},
    )
    assert done.status_code == 200 and done.text.count("<li><code>") == 10
    assert platform.identity.totp.enrolled(Principal.customer(cid), cid)


def test_consent_withdraw(signed_in: TestClient, platform: Platform, zhang: Customer) -> None:
    consent = platform.identity.consents.grant(
        zhang.principal, zhang.id, "marketing", ["contact", "transactions"]
    )
    page = signed_in.get("/app/privacy")
    assert "汇桥金融及合作方的个性化优惠" in page.text
    r = signed_in.post(
        f"/app/privacy/consents/{consent.id}/withdraw",
        data={"csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert not platform.identity.consents.has_consent(zhang.id, "marketing")
    assert "撤回于" in signed_in.get("/app/privacy").text


def test_download_all_my_data(signed_in: TestClient, platform: Platform, zhang: Customer) -> None:
    token = csrf_of(signed_in.get("/app/privacy").text)
    r = signed_in.post("/app/privacy/export", data={"csrf_token": token})
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    assert "attachment" in r.headers["content-disposition"]
    archive = zipfile.ZipFile(io.BytesIO(r.content))
    profile = json.loads(archive.read("identity/profile.json"))
    assert profile["name"] == zhang.req.name and profile["id_number"] == zhang.req.id_number
    rows = list(
        csv.DictReader(io.StringIO(archive.read("banking/transactions.csv").decode("utf-8-sig")))
    )
    assert [(row["description"], row["amount"]) for row in rows] == [("Salary", "1000.00")]
    accounts = json.loads(archive.read("banking/accounts.json"))
    assert {a["id"] for a in accounts} == {zhang.current, zhang.savings, zhang.usd}
    actions = [e.action for e in platform.identity.audit.entries(subject=zhang.id)]
    assert "data.export" in actions and actions.count("pii.reveal") >= 4


def test_correction_and_deletion_requests(
    signed_in: TestClient, platform: Platform, zhang: Customer
) -> None:
    assert RETENTION == RETENTION_NOTE
    page = signed_in.get("/app/privacy")
    assert "反洗钱法" in page.text
    empty = signed_in.post(
        "/app/privacy/requests",
        data={"csrf_token": csrf_of(page.text), "kind": "correction", "detail": " "},
    )
    assert empty.status_code == 422 and 'aria-invalid="true"' in empty.text
    assert platform.identity.privacy.list(zhang.principal, zhang.id) == []
    ok = signed_in.post(
        "/app/privacy/requests",
        data={
            "csrf_token": csrf_of(page.text),
            "kind": "correction",
            "detail": "my name is 张三丰",
        },
    )
    assert ok.status_code == 200 and "申请已记录" in ok.text
    signed_in.post(
        "/app/privacy/requests", data={"csrf_token": csrf_of(page.text), "kind": "deletion"}
    )
    queue = platform.identity.privacy.open_requests(Principal.operator("op", [Role.TELLER]))
    assert sorted(r.kind for r in queue) == ["correction", "deletion"]
    admin = Principal.operator("op", [Role.ADMIN])
    platform.identity.privacy.close(admin, queue[0].id, "done", "name corrected after KYC")
    assert "已完成" in signed_in.get("/app/privacy").text


def test_operator_closes_a_request_in_the_console(
    signed_in: TestClient, platform: Platform, zhang: Customer
) -> None:
    request = platform.identity.privacy.submit(zhang.principal, zhang.id, "deletion", "")
    key = platform.api_keys.issue("privacy officer", [Role.TELLER]).plaintext
    console = TestClient(signed_in.app)
    token = platform.identity.authenticator.sign_in_operator(key).token
    console.cookies.set("finbridge_session", token)
    page = console.get("/console/privacy")
    assert page.status_code == 200 and request.id in page.text and "反洗钱" not in page.text
    hx = {"HX-Request": "true"}
    empty = console.post(
        f"/console/privacy/{request.id}/close", data={"outcome": "done"}, headers=hx
    )
    assert empty.status_code == 422
    done = console.post(
        f"/console/privacy/{request.id}/close",
        data={"outcome": "partly_done", "resolution": "contact data erased; ledger kept 5 years"},
        headers=hx,
    )
    assert done.status_code == 200 and "partly_done" in done.text
    assert platform.identity.privacy.open_requests(Principal.operator("op", [Role.TELLER])) == []
    assert "部分完成" in signed_in.get("/app/privacy").text
    # Customers never reach the queue.
    assert signed_in.get("/console/privacy", follow_redirects=False).status_code == 303

"""Sign-in, home, messages, CSRF, cookies and logout through the real site."""

from __future__ import annotations

from fastapi.testclient import TestClient

from finbridge.core import ManualClock
from finbridge.platform import Platform

from .conftest import PASSWORD, SYSTEM, ZHANG, Customer, csrf_of


def test_anonymous_visitors_are_sent_to_sign_in(client: TestClient) -> None:
    r = client.get("/app/messages", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/app/login?next=/app/messages"


def test_sign_in_with_password_and_totp_then_home(signed_in: TestClient, zhang: Customer) -> None:
    home = signed_in.get("/app")
    assert home.status_code == 200
    assert "¥1,000.00" in home.text  # zh_CN formatting of the CNY total
    assert "Salary" in home.text
    assert home.headers["content-security-policy"].startswith("default-src 'self'")
    assert "unsafe-inline" not in home.headers["content-security-policy"]


def test_session_cookie_flags(client: TestClient, clock: ManualClock, zhang: Customer) -> None:
    from .conftest import sign_in

    page = client.get("/app/login")
    csrf_cookie = page.headers["set-cookie"].lower()
    assert "httponly" in csrf_cookie and "samesite=strict" in csrf_cookie
    sign_in(client, clock, zhang)
    r = client.get("/app")
    assert r.status_code == 200
    # The session cookie is set on the code step's redirect: check its flags there.
    page = client.get("/app/login")
    step = client.post(
        "/app/login",
        data={"phone": ZHANG.phone, "password": PASSWORD, "csrf_token": csrf_of(page.text)},
    )
    challenge = step.text.split('name="challenge" value="')[1].split('"')[0]
    from datetime import timedelta

    clock.advance(timedelta(seconds=30))
    done = client.post(
        "/app/login/code",
        data={
            "challenge": challenge,
            "code": zhang.totp.at(clock.now()),
            "csrf_token": csrf_of(step.text),
        },
        follow_redirects=False,
    )
    cookie = done.headers["set-cookie"].lower()
    assert "finbridge_app=fbs_" in cookie
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/app" in cookie
    assert "secure" not in cookie  # plain http in tests; https or production sets it


def test_wrong_password_and_wrong_code(client: TestClient, zhang: Customer) -> None:
    page = client.get("/app/login")
    bad = client.post(
        "/app/login",
        data={"phone": ZHANG.phone, "password": "nope nope nope", "csrf_token": csrf_of(page.text)},
    )
    assert bad.status_code == 401 and "手机号和密码不匹配" in bad.text
    step = client.post(
        "/app/login",
        data={"phone": ZHANG.phone, "password": PASSWORD, "csrf_token": csrf_of(page.text)},
    )
    challenge = step.text.split('name="challenge" value="')[1].split('"')[0]
    wrong = client.post(
        "/app/login/code",
        data={"challenge": challenge, "code": "000000", "csrf_token": csrf_of(step.text)},
    )
    assert wrong.status_code == 401 and 'name="challenge"' in wrong.text
    assert "finbridge_app" not in client.cookies


def test_post_without_csrf_token_is_refused(
    signed_in: TestClient, platform: Platform, zhang: Customer
) -> None:
    platform.identity.inbox.deliver(SYSTEM, zhang.id, kind="notice", title="Hello", body="b")
    r = signed_in.post("/app/messages/read-all", data={}, follow_redirects=False)
    assert r.status_code == 403
    assert platform.identity.inbox.unread_count(zhang.principal, zhang.id) == 1
    forged = signed_in.post(
        "/app/messages/read-all", data={"csrf_token": "0" * 64}, follow_redirects=False
    )
    assert forged.status_code == 403
    assert platform.identity.inbox.unread_count(zhang.principal, zhang.id) == 1
    token = csrf_of(signed_in.get("/app/messages").text)
    ok = signed_in.post(
        "/app/messages/read-all", data={"csrf_token": token}, follow_redirects=False
    )
    assert ok.status_code == 303
    assert platform.identity.inbox.unread_count(zhang.principal, zhang.id) == 0


def test_foreign_origin_is_refused(signed_in: TestClient) -> None:
    token = csrf_of(signed_in.get("/app/messages").text)
    r = signed_in.post(
        "/app/messages/read-all",
        data={"csrf_token": token},
        headers={"Origin": "https://evil.example"},
    )
    assert r.status_code == 403


def test_messages_inbox_and_home_card(
    signed_in: TestClient, platform: Platform, zhang: Customer
) -> None:
    msg = platform.identity.inbox.deliver(
        SYSTEM, zhang.id, kind="offer", title="<b>Offer</b>", body="Line one\nLine two"
    )
    home = signed_in.get("/app")
    assert 'id="card-messages"' in home.text and "1 条未读消息" in home.text
    assert "&lt;b&gt;Offer&lt;/b&gt;" in home.text  # escaped, never markup
    listing = signed_in.get("/app/messages")
    assert msg.id in listing.text
    opened = signed_in.get(f"/app/messages/{msg.id}")
    assert opened.status_code == 200 and "Line two" in opened.text
    assert platform.identity.inbox.unread_count(zhang.principal, zhang.id) == 0
    assert 'id="card-messages"' not in signed_in.get("/app").text


def test_language_switch_to_english(signed_in: TestClient) -> None:
    token = csrf_of(signed_in.get("/app").text)
    r = signed_in.post("/app/lang", data={"lang": "en", "next": "/app", "csrf_token": token})
    assert r.status_code == 200
    assert '<html lang="en">' in r.text and "CN¥1,000.00" in r.text and "Total balance" in r.text


def test_logout_ends_the_server_session(
    signed_in: TestClient, platform: Platform, zhang: Customer
) -> None:
    cookie = signed_in.cookies["finbridge_app"]
    token = csrf_of(signed_in.get("/app").text)
    r = signed_in.post("/app/logout", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/app/login"
    # Replaying the old cookie gets nowhere: the server session and the identity session ended.
    replay = TestClient(signed_in.app, cookies={"finbridge_app": cookie})
    assert replay.get("/app", follow_redirects=False).status_code == 303
    sessions = platform.identity.sessions.list(zhang.principal, zhang.id)
    assert all(s.revoked_at is not None for s in sessions)


def test_sign_up_opens_an_account_and_signs_in(client: TestClient, platform: Platform) -> None:
    page = client.get("/app/signup")
    form = {
        "csrf_token": csrf_of(page.text), "name": "王小明", "id_type": "prc_resident_id",
        "id_number": "11010519491231002X", "phone": "13700001111",
        "password": "a long passphrase", "password_again": "a long passphrase",
    }  # fmt: skip
    bad = client.post("/app/signup", data={**form, "id_number": "110105194912310021"})
    assert bad.status_code == 422 and "证件号码" in bad.text
    assert 'value="王小明"' in bad.text and "a long passphrase" not in bad.text
    assert platform.identity.persons.find_by_phone("13700001111") is None  # nothing half-done
    differ = client.post("/app/signup", data={**form, "password_again": "another phrase!"})
    assert differ.status_code == 422
    ok = client.post("/app/signup", data=form, follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"] == "/app/security"
    home = client.get("/app")
    assert "¥0.00" in home.text and "活期" in home.text
    other = TestClient(client.app)
    token = csrf_of(other.get("/app/signup").text)
    again = other.post("/app/signup", data={**form, "csrf_token": token})
    assert again.status_code == 409  # the same person or mobile number registers once

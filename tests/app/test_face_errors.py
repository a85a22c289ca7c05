"""Face sign-in's refusals without a browser: every one a clear message in the customer's
language and no session (the happy path and the liveness refusals run in Chromium,
test_face_login.py)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from tests.identity.faces import blank, frames_for, photo

from finbridge.core import ManualClock
from finbridge.platform import Platform
from finbridge.site import create_app

from .conftest import PASSWORD, Customer, csrf_of, sign_in


def _face_page(client: TestClient, who: Customer) -> tuple[str, str, str]:
    page = client.get("/app/login")
    r = client.post("/app/login", data={"phone": who.req.phone, "password": PASSWORD,
                                        "csrf_token": csrf_of(page.text)})  # fmt: skip
    assert 'id="face-login"' in r.text  # face is offered once enrolled
    challenge = r.text.split('name="challenge" value="')[1].split('"')[0]
    face = client.post("/app/login/face", data={"challenge": challenge,
                                                "csrf_token": csrf_of(r.text)})  # fmt: skip
    assert face.status_code == 200 and "data-face-login" in face.text
    liveness = re.search(r'data-liveness="([^"]+)"', face.text)
    assert liveness
    return challenge, liveness.group(1), csrf_of(face.text)


def test_face_refusals(
    client: TestClient, platform: Platform, clock: ManualClock, zhang: Customer
) -> None:
    sign_in(client, clock, zhang)
    security = client.get("/app/security")
    form = {"csrf_token": csrf_of(security.text), "consent": "yes"}
    jpeg = ("photo", ("me.jpg", photo("obama_a.jpg"), "image/jpeg"))
    clock.advance(timedelta(minutes=6))  # the sign-in's code is no longer a fresh factor
    refused = client.post("/app/security/face", data=form, files=[jpeg])
    assert refused.status_code == 403 and "验证码" in refused.text  # a fresh factor first
    assert not platform.identity.face.enrolled(zhang.id)
    clock.advance(timedelta(seconds=30))
    form["code"] = zhang.totp.at(clock.now())
    done = client.post("/app/security/face", data=form, files=[jpeg], follow_redirects=False)
    assert done.status_code == 303, done.text
    assert platform.identity.face.enrolled(zhang.id)
    client = TestClient(create_app(platform=platform))  # a new browser, signed out

    challenge, liveness, token = _face_page(client, zhang)

    def verify(frames: list[bytes], **fields: str) -> tuple[int, str]:
        data = {"challenge": challenge, "liveness_id": liveness, "csrf_token": token} | fields
        files = [("frames", (f"f{i}.jpg", f, "image/jpeg")) for i, f in enumerate(frames)]
        r = client.post("/app/login/face/verify", data=data, files=files)
        assert "finbridge_app" not in client.cookies
        return r.status_code, r.json()["error"]

    assert verify([b"x" * (2 * 1024 * 1024 + 1)]) == (413, "图片太大。")
    status, text = verify([blank()] * 21)
    assert status == 422 and "恰好有一张人脸" in text
    status, text = verify([blank() for _ in range(7)])
    assert status == 422 and "恰好有一张人脸" in text
    status, text = verify([blank()], challenge="lc_forged")
    assert status == 401 and "已过期" in text
    clock.advance(timedelta(minutes=10))  # the sign-in step itself expires
    status, text = verify([blank()])
    assert status == 401 and "已过期" in text


def test_photos_sign_in_without_javascript(
    client: TestClient, platform: Platform, clock: ManualClock, zhang: Customer
) -> None:
    """The page's form for a phone without a camera stream (or without JavaScript): one photo
    per instruction, judged by the same liveness check; a refusal shows the page again with
    the reason and a new challenge, a success signs in with a redirect."""
    sign_in(client, clock, zhang)
    security = client.get("/app/security")
    clock.advance(timedelta(seconds=30))
    form = {"csrf_token": csrf_of(security.text), "consent": "yes",
            "code": zhang.totp.at(clock.now())}  # fmt: skip
    jpeg = ("photo", ("me.jpg", photo("obama_a.jpg"), "image/jpeg"))
    assert client.post("/app/security/face", data=form, files=[jpeg]).status_code == 200
    client = TestClient(create_app(platform=platform))  # a new browser, signed out

    challenge, liveness, token = _face_page(client, zhang)

    def send(frames: list[bytes], liveness_id: str) -> Any:
        data = {"challenge": challenge, "liveness_id": liveness_id, "csrf_token": token,
                "photos": "1"}  # fmt: skip
        files = [("frames", (f"p{i}.jpg", f, "image/jpeg")) for i, f in enumerate(frames)]
        return client.post("/app/login/face/verify", data=data, files=files,
                           follow_redirects=False)  # fmt: skip

    first = client.post("/app/login/face", data={"challenge": challenge, "csrf_token": token})
    steps = re.findall(r'data-step="([a-z_]+)"', first.text)
    liveness = re.search(r'data-liveness="([^"]+)"', first.text).group(1)  # type: ignore[union-attr]
    refused = send([blank() for _ in steps], liveness)
    assert refused.status_code == 422 and "恰好有一张人脸" in refused.text
    assert "finbridge_app" not in client.cookies
    again = re.search(r'data-liveness="([^"]+)"', refused.text)
    assert again and again.group(1) != liveness  # the page again, with a new challenge
    steps = re.findall(r'data-step="([a-z_]+)"', refused.text)
    done = send(frames_for(steps), again.group(1))
    assert done.status_code == 303 and done.headers["location"] == "/app", done.text
    assert "finbridge_app" in client.cookies
    assert client.get("/app", follow_redirects=False).status_code == 200

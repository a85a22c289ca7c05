"""Face sign-in's refusals without a browser: every one a clear message in the customer's
language and no session (the happy path and the liveness refusals run in Chromium,
test_face_login.py)."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from tests.identity.faces import blank, photo

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

"""Face sign-in in Chromium with a fake camera: a Y4M video made from the shipped face photos
(tests/app/facecam.py) is what getUserMedia films, and the frames go through identity's real
face model and liveness check. Enrolment first, through the security page's form with a fresh
TOTP code; then a still photo and another person are refused with a clear message and the
enrolled person, turning their head as asked, signs in."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from tests.browser_support import CHROMIUM, CHROMIUM_ARGS, serve, watch_errors
from tests.identity.faces import DATA

from finbridge.core import ManualClock, Settings
from finbridge.identity import StepUpGuard
from finbridge.platform import Platform

from . import facecam
from .conftest import PASSWORD, ZHANG, Customer, ScriptedRisk, make_customer

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def camera(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("camera") / "camera.y4m"
    facecam.still(path, "obama_a.jpg")  # Chromium reads the format at start-up
    return path


@pytest.fixture(scope="module")
def browser(camera: Path) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    args = [*CHROMIUM_ARGS, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={camera}"]  # fmt: skip
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=args)
        try:
            yield chromium
        finally:
            chromium.close()


def _password(page: Any, base: str, who: Customer) -> None:
    page.goto(f"{base}/app/login")
    page.fill("#phone", who.req.phone)
    page.fill("#password", PASSWORD)
    page.click("button.primary")
    page.click("#face-login")
    page.wait_for_selector("[data-face-login]")


def _film(page: Any) -> tuple[list[str], int]:
    steps = page.eval_on_selector_all("#face-steps li", "els => els.map(e => e.dataset.step)")
    step_ms = int(page.get_attribute("[data-face-login]", "data-step-ms"))
    return steps, step_ms


@pytest.mark.slow  # ~60 s at load 15: three filmed attempts of ~9 s each through dlib
def test_face_enrolment_and_sign_in(
    browser: Any, camera: Path, settings: Settings, sqlite_engine: Engine, clock: ManualClock
) -> None:
    platform = Platform(settings=settings, engine=sqlite_engine, clock=clock)
    platform.use_posting_guard(StepUpGuard(platform.identity.step_up, inner=ScriptedRisk()))
    zhang = make_customer(platform, clock, ZHANG)
    with serve(platform) as base:
        context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
        try:
            page = context.new_page()
            errors: list[str] = []
            watch_errors(page, errors)
            # Sign in with the code, then enrol from the security page (consent + fresh code).
            page.goto(f"{base}/app/login")
            page.fill("#phone", zhang.req.phone)
            page.fill("#password", PASSWORD)
            page.click("button.primary")
            clock.advance(timedelta(seconds=30))
            page.fill("#code", zhang.totp.at(clock.now()))
            page.click("button.primary")
            page.wait_for_selector("#totals-h")
            page.goto(f"{base}/app/security")
            page.set_input_files("#face-photo", str(DATA / "obama_a.jpg"))
            page.check("input[name=consent]")
            clock.advance(timedelta(seconds=30))
            page.fill("#face-code", zhang.totp.at(clock.now()))
            page.click("#face-h ~ form button.primary")
            page.wait_for_selector("text=刷脸登录已设置")
            context.clear_cookies()

            # A photo held up to the camera: the face matches, but it never turns.
            _password(page, base, zhang)
            steps, step_ms = _film(page)
            assert steps[0] == "center" and len(steps) == 7 and "center" in steps[2::2]
            facecam.still(camera, "obama_a.jpg", shift=24)
            page.click("[data-face-login]")
            page.wait_for_selector("#face-error:not([hidden])", timeout=60_000)
            assert "照片和录像无法通过" in page.inner_text("#face-error")

            # Another person, in a fresh challenge (the retry form draws one).
            page.click("#face-retry button")
            page.wait_for_selector("[data-face-login]:not([disabled])")
            steps, step_ms = _film(page)
            facecam.other_person(camera)
            page.click("[data-face-login]")
            page.wait_for_selector("#face-error:not([hidden])", timeout=60_000)
            assert "此人脸与本账户录入的人脸不符" in page.inner_text("#face-error")
            assert "finbridge_app" not in {c["name"] for c in context.cookies()}

            # The enrolled person, live, making the movements asked for: signed in.
            _password(page, base, zhang)
            steps, step_ms = _film(page)
            facecam.follow(camera, steps, step_ms)
            page.click("[data-face-login]")
            page.wait_for_selector("#totals-h", timeout=60_000)
            assert errors == []
        finally:
            context.close()
    amrs = [e.detail for e in platform.identity.audit.entries(subject=zhang.id)
            if e.action == "login" and e.outcome == "success"]  # fmt: skip
    assert amrs[0]["method"] == "face"

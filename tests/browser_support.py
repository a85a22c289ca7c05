"""Shared plumbing for browser tests: the real app under uvicorn, and Debian's Chromium."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from finbridge.platform import Platform
from finbridge.site import create_app

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps trying to reach Google's hosts, which
# this machine's closed network refuses; never `playwright install` (it downloads a browser).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def launch_chromium(playwright: Any) -> Any:
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


@contextlib.contextmanager
def open_chromium() -> Iterator[Any]:
    """Debian's Chromium under Playwright for the length of the block (a fixture's body)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            yield browser
        finally:
            browser.close()


def console_page(
    browser: Any, base: str, key: str, errors: list[str], landing: str = "/console"
) -> Any:
    """A new page signed in to the operator console with API ``key``, on ``landing`` (the
    login form's ``next``), its script errors and CSP refusals collected into ``errors``."""
    page = browser.new_page()
    watch_errors(page, errors)
    suffix = "" if landing == "/console" else f"?next={landing}"
    page.goto(f"{base}/console/login{suffix}")
    page.fill("#api_key", key)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}{landing}")
    return page


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serve(platform: Platform, port: int | None = None, host: str = "127.0.0.1") -> Iterator[str]:
    """The real app under uvicorn on a loopback port; yields its base URL (``host`` as named)."""
    port = port or free_port()
    srv = uvicorn.Server(
        uvicorn.Config(
            create_app(platform=platform), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    base = f"http://{host}:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            srv.should_exit = True
            pytest.fail("uvicorn did not start within 20 s")
        time.sleep(0.1)
    try:
        yield base
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


def watch_errors(page: Any, errors: list[str]) -> None:
    """Collect ``page``'s script exceptions and CSP refusals into ``errors`` (other console
    messages, such as the 401 of a wrong key, are not failures)."""
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console",
        lambda msg: errors.append(msg.text) if "Content Security Policy" in msg.text else None,
    )


AXE = (Path(__file__).parent / "app" / "vendor" / "axe.min.js").read_text()


def serious_axe_findings(page: Any) -> list[str]:
    """axe-core's serious and critical findings on ``page`` (rule id: the elements)."""
    page.evaluate(AXE)
    found: list[str] = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".filter(v => v.impact === 'serious' || v.impact === 'critical')"
        ".map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))"
    )
    return found

"""Verified API keys are remembered for a few seconds; revocation still wins.

In this process a revocation forgets the key at once; one made elsewhere (the CLI, another server
process: a service without the server's cache) takes effect within
``settings.api.key_cache_seconds``.
"""

from __future__ import annotations

import time

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from finbridge.core import ManualClock, Role, Settings
from finbridge.core.settings import ApiSettings
from finbridge.identity.apikeys import ApiKeyService
from finbridge.site import create_app

from .conftest import make_platform


def _setup(settings: Settings, engine: Engine, clock: ManualClock, ttl: float):  # type: ignore[no-untyped-def]
    platform = make_platform(
        settings.with_changes(api=ApiSettings(key_cache_seconds=ttl)), engine, clock
    )
    client = TestClient(create_app(platform=platform))
    secret = platform.settings.secret_key.get_secret_value()
    elsewhere = ApiKeyService(platform.engine, platform.clock, secret)  # no cache: "the CLI"
    issued = elsewhere.issue("ops", [Role.ADMIN])
    return platform, client, elsewhere, issued


def _status(client: TestClient, key: str) -> int:
    return client.get("/v1/customers", headers={"Authorization": f"Bearer {key}"}).status_code


def test_revocation_in_this_process_is_immediate(
    settings: Settings, sqlite_engine: Engine, clock: ManualClock
) -> None:
    platform, client, _, issued = _setup(settings, sqlite_engine, clock, ttl=60)
    assert _status(client, issued.plaintext) == 200
    assert platform.api_keys.cached(issued.plaintext) is not None
    platform.api_keys.revoke(issued.key.id)
    assert platform.api_keys.cached(issued.plaintext) is None
    assert _status(client, issued.plaintext) == 401


def test_revocation_elsewhere_takes_effect_within_the_ttl(
    settings: Settings, sqlite_engine: Engine, clock: ManualClock
) -> None:
    _, client, elsewhere, issued = _setup(settings, sqlite_engine, clock, ttl=0.3)
    assert _status(client, issued.plaintext) == 200
    elsewhere.revoke(issued.key.id)
    time.sleep(0.35)
    assert _status(client, issued.plaintext) == 401


def test_no_cache_means_every_request_is_checked(
    settings: Settings, sqlite_engine: Engine, clock: ManualClock
) -> None:
    platform, client, elsewhere, issued = _setup(settings, sqlite_engine, clock, ttl=0)
    assert _status(client, issued.plaintext) == 200
    assert platform.api_keys.cached(issued.plaintext) is None
    elsewhere.revoke(issued.key.id)
    assert _status(client, issued.plaintext) == 401


def test_a_wrong_secret_is_never_remembered(
    settings: Settings, sqlite_engine: Engine, clock: ManualClock
) -> None:
    platform, client, _, issued = _setup(settings, sqlite_engine, clock, ttl=60)
    forged = issued.plaintext[:-4] + ("AAAA" if not issued.plaintext.endswith("AAAA") else "BBBB")
    assert _status(client, forged) == 401
    assert platform.api_keys.cached(forged) is None
    assert _status(client, issued.plaintext) == 200

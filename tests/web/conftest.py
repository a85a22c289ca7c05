"""Console fixtures: an app on a real database and an operator key to log in with."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from finbridge.core import ManualClock, Role, Settings
from finbridge.identity import ApiKeyService
from finbridge.platform import Platform
from finbridge.site import create_app

HX = {"HX-Request": "true"}


@pytest.fixture
def web_platform(settings: Settings, sqlite_engine: Engine, clock: ManualClock) -> Platform:
    return Platform(settings=settings, engine=sqlite_engine, clock=clock)


@pytest.fixture
def web_app(web_platform: Platform) -> FastAPI:
    return create_app(platform=web_platform)


@pytest.fixture
def key_service(web_platform: Platform) -> ApiKeyService:
    # The server process's own service (with its verified-key cache), as the console uses it.
    return web_platform.api_keys


@pytest.fixture
def admin_key(key_service: ApiKeyService) -> str:
    return key_service.issue("console admin", [Role.ADMIN]).plaintext


def log_in(client: TestClient, key: str) -> None:
    response = client.post("/console/login", data={"api_key": key}, headers=HX)
    assert response.status_code == 204, response.text


@pytest.fixture
def seeded_platform(web_platform: Platform) -> Platform:
    """The platform with the first 40 Taiwan clients and their replayed card payments."""
    from finbridge.cli.demo_data import load_demo_data

    result = load_demo_data(web_platform, limit=40)
    assert result.customers_opened == 40
    assert result.card_posted > 500
    return web_platform

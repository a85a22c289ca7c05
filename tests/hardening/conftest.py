"""Hardening fixtures: the real app over each database, real keys, a ledger service."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from tests.api.conftest import Api, issue_key, make_platform

from finbridge.banking import BankingService
from finbridge.core import ManualClock, Principal, Role, Settings
from finbridge.platform import Platform
from finbridge.site import create_app


@pytest.fixture
def system() -> Principal:
    return Principal.system("test")


@pytest.fixture
def svc(engine: Engine, clock: ManualClock) -> BankingService:
    return BankingService(engine, clock)


@pytest.fixture
def both_platform(settings: Settings, engine: Engine, clock: ManualClock) -> Platform:
    """A platform on each database in turn."""
    return make_platform(settings, engine, clock)


@pytest.fixture
def lite_platform(settings: Settings, sqlite_engine: Engine, clock: ManualClock) -> Platform:
    return make_platform(settings, sqlite_engine, clock)


def admin_of(platform: Platform) -> Api:
    app: FastAPI = create_app(platform=platform)
    key = issue_key(platform, [Role.ADMIN], "admin")
    return Api(TestClient(app), {"Authorization": f"Bearer {key}"})

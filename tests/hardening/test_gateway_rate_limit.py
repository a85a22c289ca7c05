"""The risk decision gateway limits every API key's decisions (``rate_limits.gateway_per_key``):
429 with ``Retry-After`` past it, other keys unaffected; in-process by default, and in Redis,
shared by every gateway process, when ``FINBRIDGE_REDIS_URL`` is set (a real Redis here)."""

from __future__ import annotations

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from tests.risk.conftest import payment

from finbridge.core import ManualClock, Role, Settings
from finbridge.core.settings import RateLimitSettings, RiskSettings
from finbridge.gateway import DECISIONS, create_gateway
from finbridge.platform import Platform


def _platform(
    settings: Settings, engine: Engine, clock: ManualClock, redis_url: str | None = None
) -> Platform:
    limited = settings.with_changes(
        rate_limits=RateLimitSettings(gateway_per_key="3/minute"),
        risk=RiskSettings(use_model=False),
        redis_url=redis_url,
    )
    return Platform(settings=limited, engine=engine, clock=clock)


def _decide(gateway: TestClient, key: str, clock: ManualClock, n: int) -> httpx.Response:
    body = payment(clock, event_id=f"rl-{key[-6:]}-{n}")
    return gateway.post(DECISIONS, json=body, headers={"Authorization": f"Bearer {key}"})


def _is_429(r: httpx.Response) -> bool:
    return (
        r.status_code == 429
        and r.headers["content-type"] == "application/problem+json"
        and int(r.headers["retry-after"]) >= 1
        and r.json()["code"] == "rate_limited"
    )


def test_each_key_has_its_own_budget(
    settings: Settings, sqlite_engine: Engine, clock: ManualClock
) -> None:
    platform = _platform(settings, sqlite_engine, clock)
    first = platform.api_keys.issue("gw-a", [Role.RISK_ANALYST]).plaintext
    second = platform.api_keys.issue("gw-b", [Role.RISK_ANALYST]).plaintext
    with TestClient(create_gateway(platform)) as gateway:
        answers = [_decide(gateway, first, clock, i) for i in range(4)]
        assert [r.status_code for r in answers[:3]] == [200, 200, 200]
        assert _is_429(answers[3])
        assert _decide(gateway, second, clock, 0).status_code == 200  # another key: untouched


@pytest.mark.redis
def test_in_redis_the_budget_is_shared_by_every_gateway_process(
    settings: Settings, sqlite_engine: Engine, clock: ManualClock
) -> None:
    url = "redis://127.0.0.1:6379/0"
    one = _platform(settings, sqlite_engine, clock, url)
    other = _platform(settings, sqlite_engine, clock, url)  # a second gateway, its own limiter
    key = one.api_keys.issue("gw-shared", [Role.RISK_ANALYST]).plaintext  # a fresh key id
    with TestClient(create_gateway(one)) as a, TestClient(create_gateway(other)) as b:
        assert [_decide(a, key, clock, i).status_code for i in range(2)] == [200, 200]
        assert _decide(b, key, clock, 2).status_code == 200
        assert _is_429(_decide(b, key, clock, 3))  # counted across both
        assert _is_429(_decide(a, key, clock, 4))

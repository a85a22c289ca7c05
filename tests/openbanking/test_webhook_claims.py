"""Webhook deliveries claimed across servers: two workers, each with its own connection pool
(two processes' worth), sending at once — every delivery reaches the app exactly once; a lease
held by a server that died is taken over only after it ends. On SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import Engine, select, update
from tests.openbanking.conftest import REDIRECT, SYSTEM
from thirdparty_app.client import new_key

from finbridge.core import ManualClock
from finbridge.openbanking.apps import AppRegistry
from finbridge.openbanking.tables import WebhookDeliveryRow
from finbridge.openbanking.webhooks import WebhookService, enqueue
from finbridge.store.engine import make_engine, unit_of_work

SECRET = "test-secret-key-of-enough-length"
N = 24


class Endpoint:
    """The app's receiver, shared by both servers' HTTP clients; slow enough to overlap."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        time.sleep(0.005)
        with self._lock:
            self.ids.append(request.headers["webhook-id"])
        return httpx.Response(204)


@pytest.fixture
def second(engine: Engine) -> Iterator[Engine]:
    other = make_engine(engine.url.render_as_string(hide_password=False))
    yield other
    other.dispose()


def _queue(engine: Engine, clock: ManualClock, n: int) -> tuple[WebhookService, list[str]]:
    apps = AppRegistry(engine, clock, production=False)
    app = apps.register(
        SYSTEM, name="Hooked", developer="H", redirect_uris=[REDIRECT],
        jwks={"keys": [new_key().as_dict(private=False)]}, scopes=["accounts"],
    )  # fmt: skip
    hooks = WebhookService(engine, clock, SECRET, production=False)
    hooks.set_endpoint(SYSTEM, app.client_id, "https://hooked.example.com/h")
    with unit_of_work(engine) as session:
        for i in range(n):
            enqueue(session, app.client_id, "consent.status_changed", {"n": i}, clock.now())
    with unit_of_work(engine, write=False) as session:
        ids = list(session.scalars(select(WebhookDeliveryRow.id)))
    return hooks, ids


def test_two_servers_send_each_delivery_once(
    engine: Engine, second: Engine, clock: ManualClock
) -> None:
    one, ids = _queue(engine, clock, N)
    two = WebhookService(second, clock, SECRET, production=False)
    endpoint = Endpoint()
    for hooks in (one, two):
        hooks.use_transport(httpx.MockTransport(endpoint))
    start = threading.Barrier(2)

    def run(hooks: WebhookService) -> int:
        start.wait()
        sent = 0
        while (n := hooks.deliver_due(SYSTEM, limit=4).delivered) > 0:
            sent += n
        return sent

    with ThreadPoolExecutor(2) as pool:
        sent = list(pool.map(run, (one, two)))
    assert sum(sent) == N
    assert Counter(endpoint.ids) == Counter({i: 1 for i in ids})  # each once, none missing
    logged = one.deliveries(SYSTEM, limit=N)
    assert {(d.status, d.attempts) for d in logged} == {("delivered", 1)}


def test_a_dead_servers_lease_is_taken_over_when_it_ends(
    engine: Engine, second: Engine, clock: ManualClock
) -> None:
    one, ids = _queue(engine, clock, 2)
    two = WebhookService(second, clock, SECRET, production=False)
    endpoint = Endpoint()
    two.use_transport(httpx.MockTransport(endpoint))
    # Server one claimed both rows and died before sending (its lease stands for 5 minutes).
    with unit_of_work(engine) as session:
        session.execute(
            update(WebhookDeliveryRow).values(
                claimed_by=one.worker, lease_until=clock.now() + timedelta(minutes=5)
            )
        )
    assert two.deliver_due(SYSTEM).delivered == 0 and endpoint.ids == []
    clock.advance(timedelta(minutes=5))
    assert two.deliver_due(SYSTEM).delivered == 2
    assert sorted(endpoint.ids) == sorted(ids)
    with unit_of_work(engine, write=False) as session:
        claims = set(session.execute(select(WebhookDeliveryRow.claimed_by)).scalars())
    assert claims == {None}  # released with the outcome

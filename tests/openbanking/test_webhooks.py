"""Webhooks: a consent's authorisation reaches the app signed per Standard Webhooks (verified by
the receiver with the library), a failing endpoint is retried with backoff and logged, a
delivery can be replayed, and a rotated secret overlaps with the previous one."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from tests.openbanking.conftest import ACCOUNT_ACCESS, SYSTEM, Customer, authorise, sign_in
from thirdparty_app.client import ThirdPartyApp

from finbridge.core import ManualClock
from finbridge.platform import Platform


class Receiver:
    """The app's endpoint: answers with the next scripted status, records what it got."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.received: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.received.append(request)
        return httpx.Response(self.statuses.pop(0) if self.statuses else 200)


def test_signed_retried_logged_replayed(
    platform: Platform, client: TestClient, clock: ManualClock, zhang: Customer, tpp: ThirdPartyApp
) -> None:
    hooks = platform.openbanking.webhooks
    receiver = Receiver([500, 503])
    hooks.use_transport(httpx.MockTransport(receiver))
    secret = hooks.set_endpoint(SYSTEM, tpp.client_id, "https://budget.example.com/hooks")
    sign_in(client, clock, zhang)
    authorise(tpp, client, ACCOUNT_ACCESS, [zhang.current])

    assert hooks.deliver_due(SYSTEM).retrying == 1  # 500: retry in 10 s
    assert hooks.deliver_due(SYSTEM).retrying == 0  # not due yet
    clock.advance(timedelta(seconds=10))
    assert hooks.deliver_due(SYSTEM).retrying == 1  # 503: retry in 20 s
    clock.advance(timedelta(seconds=19))
    assert hooks.deliver_due(SYSTEM).delivered == 0
    clock.advance(timedelta(seconds=1))
    assert hooks.deliver_due(SYSTEM).delivered == 1
    (logged,) = hooks.deliveries(SYSTEM, client_id=tpp.client_id)
    assert (logged.status, logged.attempts, logged.last_status) == ("delivered", 3, 200)

    last = receiver.received[-1]
    body = Webhook(secret).verify(last.content, dict(last.headers))
    assert body["type"] == "consent.status_changed" and body["data"]["status"] == "authorised"
    assert last.headers["webhook-id"] == logged.id
    try:
        Webhook("whsec_" + "A" * 44).verify(last.content, dict(last.headers))
        raise AssertionError("another secret verified the signature")
    except WebhookVerificationError:
        pass

    new_secret = hooks.rotate_secret(SYSTEM, tpp.client_id)
    hooks.replay(SYSTEM, logged.id)
    assert hooks.deliver_due(SYSTEM).delivered == 1
    again = receiver.received[-1]
    assert json.loads(again.content) == json.loads(last.content)
    for key in (secret, new_secret):  # both sign during the overlap
        Webhook(key).verify(again.content, dict(again.headers))
    clock.advance(timedelta(days=1, seconds=1))
    hooks.replay(SYSTEM, logged.id)
    hooks.deliver_due(SYSTEM)
    latest = receiver.received[-1]
    Webhook(new_secret).verify(latest.content, dict(latest.headers))
    assert len(latest.headers["webhook-signature"].split()) == 1  # the old secret retired


def test_an_endpoint_that_keeps_failing_ends_failed(
    platform: Platform, client: TestClient, clock: ManualClock, zhang: Customer, tpp: ThirdPartyApp
) -> None:
    hooks = platform.openbanking.webhooks
    hooks.use_transport(httpx.MockTransport(Receiver([500] * 20)))
    hooks.set_endpoint(SYSTEM, tpp.client_id, "https://budget.example.com/hooks")
    sign_in(client, clock, zhang)
    authorise(tpp, client, ACCOUNT_ACCESS, [zhang.current])
    for _ in range(8):
        hooks.deliver_due(SYSTEM)
        clock.advance(timedelta(hours=1))
    (logged,) = hooks.deliveries(SYSTEM)
    assert (logged.status, logged.attempts, logged.last_error) == ("failed", 8, "HTTP 500")


def test_the_serve_loop_sends_what_is_due(
    platform: Platform, client: TestClient, clock: ManualClock, zhang: Customer, tpp: ThirdPartyApp
) -> None:
    from finbridge.cli.openbanking_loop import WebhookLoop

    receiver = Receiver([])
    platform.openbanking.webhooks.use_transport(httpx.MockTransport(receiver))
    platform.openbanking.webhooks.set_endpoint(
        SYSTEM, tpp.client_id, "https://budget.example.com/h"
    )
    sign_in(client, clock, zhang)
    authorise(tpp, client, ACCOUNT_ACCESS, [zhang.current])
    loop = WebhookLoop(platform, interval_seconds=0.05)
    assert loop.run_once() == 1 and loop.run_once() == 0
    loop.start().stop()
    assert len(receiver.received) == 1


def test_a_webhook_url_never_names_a_private_address(
    platform: Platform, clock: ManualClock
) -> None:
    from finbridge.core.errors import ValidationError
    from finbridge.openbanking.webhooks import WebhookService

    for production, url in (
        (True, "https://10.0.0.5/hooks"),
        (True, "http://127.0.0.1:9000/hooks"),  # loopback only outside production
        (True, "http://hooks.example.com/h"),
        (False, "https://169.254.169.254/latest/meta-data"),  # the cloud's metadata service
        (False, "http://192.168.1.20/h"),
    ):
        hooks = WebhookService(platform.engine, clock, "s" * 32, production=production)
        with pytest.raises(ValidationError) as info:
            hooks.set_endpoint(SYSTEM, "any-app", url)
        assert info.value.field == "url", url


def test_a_webhook_host_resolving_to_a_private_address_is_not_called(
    platform: Platform, clock: ManualClock, tpp: ThirdPartyApp
) -> None:
    """The name passed registration (it is no address literal) but resolves, at sending time,
    to loopback: in production the delivery fails with the reason and nothing is connected;
    outside production loopback is allowed and the (closed) port is really tried."""
    from finbridge.openbanking.webhooks import WebhookService, enqueue
    from finbridge.store.engine import unit_of_work

    for production, expected in ((True, "refused: the address"), (False, "ConnectError")):
        hooks = WebhookService(platform.engine, clock, "s" * 32, production=production)
        hooks.set_endpoint(SYSTEM, tpp.client_id, "https://localhost:9/hooks")
        with unit_of_work(platform.engine) as session:
            enqueue(session, tpp.client_id, "consent.status_changed", {"n": 1}, clock.now())
        run = hooks.deliver_due(SYSTEM)
        assert run.delivered == 0 and run.retrying >= 1
        for tried in hooks.deliveries(SYSTEM, limit=20):  # every due row went the same way
            assert (tried.last_error or "").startswith(expected), tried
        clock.advance(timedelta(days=1))  # past every retry: the next round tries them all

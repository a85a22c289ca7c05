"""Apps that publish their keys at a JWKS URI: a real local JWKS server rotates its key; the
server fetches the set, caches it, fetches again for a new ``kid`` and refuses the retired key;
the SSRF guard refuses private addresses and plain http in production, oversized, slow and
redirected answers everywhere."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient
from joserfc.jwk import ECKey
from tests.openbanking.conftest import ACCOUNT_ACCESS, ISSUER, REDIRECT, SYSTEM
from tests.openbanking.test_security import audited_as, refused
from thirdparty_app.client import ThirdPartyApp, new_key

from finbridge.core import ManualClock
from finbridge.core.errors import ValidationError
from finbridge.openbanking import AppStatus
from finbridge.openbanking.apps import AppRegistry
from finbridge.openbanking.outbound import FetchLimits, FetchRefused, check_url, fetch
from finbridge.openbanking.remote_jwks import RemoteJwks
from finbridge.platform import Platform


@dataclass
class JwksServer:
    """A third party's key host: ``/jwks`` serves ``keys`` (public), counting the fetches."""

    keys: list[ECKey]
    hits: int = 0
    url: str = ""
    _server: ThreadingHTTPServer | None = field(default=None, repr=False)

    def publish(self, *keys: ECKey) -> None:
        self.keys = list(keys)


def _handler(state: JwksServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/jwks":
                state.hits += 1
                self._send(json.dumps({"keys": [k.as_dict(private=False) for k in state.keys]}))
            elif self.path == "/private":  # a careless host publishing its private key
                self._send(json.dumps({"keys": [state.keys[0].as_dict(private=True)]}))
            elif self.path == "/big":
                self._send(json.dumps({"keys": [], "pad": "x" * 200_000}))
            elif self.path == "/redirect":
                self.send_response(302)
                self.send_header("Location", "http://169.254.169.254/latest/meta-data")
                self.end_headers()
            elif self.path == "/slow":  # a drip that never finishes in time
                self.send_response(200)
                self.end_headers()
                for _ in range(30):
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(0.1)

        def _send(self, body: str) -> None:
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def jwks_host() -> Iterator[JwksServer]:
    state = JwksServer(keys=[new_key()])
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def test_keys_at_a_jwks_uri_are_fetched_cached_and_rotated(
    platform: Platform, client: TestClient, clock: ManualClock, jwks_host: JwksServer
) -> None:
    first = jwks_host.keys[0]
    app = platform.openbanking.apps.register(
        SYSTEM, name="Rotating Keys", developer="Rotating Keys Ltd", redirect_uris=[REDIRECT],
        jwks_uri=f"{jwks_host.url}/jwks", scopes=["accounts"],
    )  # fmt: skip
    assert app.jwks_uri == f"{jwks_host.url}/jwks" and app.jwks == {"keys": []}
    platform.openbanking.apps.decide(SYSTEM, app.client_id, AppStatus.APPROVED)
    tpp = ThirdPartyApp(http=TestClient(client.app), base_url=ISSUER, client_id=app.client_id,
                        signing_key=first, redirect_uri=REDIRECT,
                        now=lambda: clock.now().timestamp())  # fmt: skip

    tpp.push(ACCOUNT_ACCESS, state="a")
    tpp.push(ACCOUNT_ACCESS, state="b")
    assert jwks_host.hits == 1  # fetched once, then served from the cache

    # The app rotates: it publishes a new key and signs with it. A kid we do not know makes
    # the server fetch the set again.
    second = new_key()
    jwks_host.publish(second)
    tpp.signing_key = second
    clock.advance(timedelta(seconds=15))
    tpp.push(ACCOUNT_ACCESS, state="c")
    assert jwks_host.hits == 2

    # The retired key no longer authenticates the app ...
    tpp.signing_key = first
    refused(lambda: tpp.push(ACCOUNT_ACCESS, state="d"), 401, "invalid_client")
    assert audited_as(platform, "par", "invalid_client", "client assertion refused")
    # ... and kids made up by an attacker cannot turn the server into a fetch loop.
    for n in range(4):
        tpp.signing_key = ECKey.import_key(new_key().as_dict(private=True), {"kid": f"made-up-{n}"})
        refused(lambda: tpp.push(ACCOUNT_ACCESS, state="e"), 401, "invalid_client")
    assert jwks_host.hits == 2  # within min_refresh of the last fetch: no new one

    # After the cache's age the set is fetched again, and the rotated key still works.
    clock.advance(timedelta(minutes=6))
    tpp.signing_key = second
    tpp.push(ACCOUNT_ACCESS, state="f")
    assert jwks_host.hits == 3


def test_an_unreachable_jwks_uri_refuses_the_client_with_invalid_client(
    platform: Platform, client: TestClient, clock: ManualClock, jwks_host: JwksServer
) -> None:
    app = platform.openbanking.apps.register(
        SYSTEM, name="Broken Keys", developer="Broken Keys Ltd", redirect_uris=[REDIRECT],
        jwks_uri=f"{jwks_host.url}/private", scopes=["accounts"],
    )  # fmt: skip
    platform.openbanking.apps.decide(SYSTEM, app.client_id, AppStatus.APPROVED)
    tpp = ThirdPartyApp(http=TestClient(client.app), base_url=ISSUER, client_id=app.client_id,
                        signing_key=jwks_host.keys[0], redirect_uri=REDIRECT,
                        now=lambda: clock.now().timestamp())  # fmt: skip
    error = refused(lambda: tpp.push(ACCOUNT_ACCESS, state="a"), 401, "invalid_client")
    assert "private key" in error.description
    assert audited_as(platform, "par", "invalid_client", "JWKS URI")


def test_registration_takes_one_kind_of_keys_and_only_fetchable_uris(
    platform: Platform, clock: ManualClock
) -> None:
    apps = platform.openbanking.apps
    common: dict[str, Any] = dict(name="X", developer="X Ltd", redirect_uris=[REDIRECT],
                                  scopes=["accounts"])  # fmt: skip
    key = {"keys": [new_key().as_dict(private=False)]}
    for both_or_none in ({}, {"jwks": key, "jwks_uri": "https://keys.example.com/jwks"}):
        with pytest.raises(ValidationError) as info:
            apps.register(SYSTEM, **common, **both_or_none)
        assert info.value.field == "jwks_uri"
    production = AppRegistry(platform.engine, clock, production=True)
    for uri in (
        "http://keys.example.com/jwks",  # plain http
        "http://127.0.0.1:9000/jwks",  # loopback: only outside production
        "https://10.0.0.8/jwks",  # private
        "https://169.254.169.254/latest/meta-data",  # the cloud's metadata service
        "https://[::ffff:192.168.1.1]/jwks",  # a private IPv4 inside IPv6
        "https://user:pw@keys.example.com/jwks",  # credentials in the URL
        "ftp://keys.example.com/jwks",
    ):
        with pytest.raises(ValidationError) as info:
            production.register(SYSTEM, **common, jwks_uri=uri)
        assert info.value.field == "jwks_uri", uri
    assert production.register(SYSTEM, **common, jwks_uri="https://keys.example.com/jwks")


def test_the_fetch_guard_refuses_private_addresses_big_slow_and_redirected_answers(
    jwks_host: JwksServer,
) -> None:
    # Production: names are resolved and every address must be public (localhost is loopback).
    for url in ("https://localhost/jwks", "https://127.0.0.1/jwks", "https://10.1.2.3/jwks"):
        with pytest.raises(FetchRefused, match="not a public one"):
            fetch(url, production=True)
    with pytest.raises(FetchRefused, match="https"):
        check_url(f"{jwks_host.url}/jwks", production=True)

    # Everywhere: a size cap, a time limit on the whole answer, no redirects. The time limit
    # is roomy where the answer is quick (a loaded CI machine once took over 0.5 s for the
    # good set), short only for the drip.
    roomy = FetchLimits(timeout_seconds=10, max_bytes=16 * 1024)
    assert json.loads(fetch(f"{jwks_host.url}/jwks", production=False, limits=roomy))["keys"]
    with pytest.raises(FetchRefused, match="larger than"):
        fetch(f"{jwks_host.url}/big", production=False, limits=roomy)
    # The drip would finish, well-formed, after 3 s: only the deadline refuses it.
    quick = FetchLimits(timeout_seconds=0.5, max_bytes=16 * 1024)
    with pytest.raises(FetchRefused, match="no full answer within"):
        fetch(f"{jwks_host.url}/slow", production=False, limits=quick)
    with pytest.raises(FetchRefused, match="HTTP 302"):
        fetch(f"{jwks_host.url}/redirect", production=False, limits=roomy)


def test_a_failed_refetch_serves_the_last_good_set_for_a_while(
    clock: ManualClock, jwks_host: JwksServer
) -> None:
    remote = RemoteJwks(clock, production=False, max_stale=timedelta(minutes=30))
    uri = f"{jwks_host.url}/jwks"
    kid = jwks_host.keys[0].kid
    assert [k["kid"] for k in remote.keys(uri, kid)["keys"]] == [kid]
    jwks_host.publish()  # the host now answers an empty set: not a usable JWKS
    clock.advance(timedelta(minutes=10))
    assert [k["kid"] for k in remote.keys(uri, kid)["keys"]] == [kid]  # stale but good
    clock.advance(timedelta(minutes=25))
    with pytest.raises(FetchRefused, match="usable JWKS"):
        remote.keys(uri, kid)

"""Open banking under 8 concurrent clients (issue 18): the token endpoint (``private_key_jwt``
+ DPoP, refresh-token grant with rotation) and a DPoP-bound balance read, beside the plain
operator API-key read of the same balance, in the same run against one ``finbridge serve``.

Seeding (in process, on the same database): one customer with a funded account, one approved
app, and one account-access consent and token pair per client (the example third-party client
``examples/thirdparty_app`` does PAR, the consent is approved through the service, the code is
exchanged over HTTP). Then each of 8 threads runs ``--requests`` of each kind, one kind at a
time; requests/s is over the whole phase, latencies per request.

With ``--jwks-uri`` the app publishes its key at a JWKS URI (a small HTTP server in this
process, counting its fetches) instead of registering it inline: the token phase then shows what
the per-process key cache costs against the inline JWKS.

Run: ``.venv/bin/python benchmarks/openbanking_token_and_read.py [--requests 200] [--jwks-uri]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))
from thirdparty_app.client import ThirdPartyApp, b64sha256, new_key  # noqa: E402

from finbridge.core import Money, Principal, Role, Settings, SystemClock  # noqa: E402
from finbridge.core.settings import IdentitySettings, OpenBankingSettings  # noqa: E402
from finbridge.openbanking import AppStatus  # noqa: E402
from finbridge.platform import Platform, upgrade_database  # noqa: E402

SYSTEM = Principal.system("bench")
REDIRECT = "https://bench.example/cb"
CLIENTS = 8


def _settings(data: Path, port: int) -> Settings:
    return Settings(
        env="development",
        data_dir=data,
        identity=IdentitySettings(password_hashing="fast"),
        openbanking=OpenBankingSettings(issuer=f"http://127.0.0.1:{port}"),
    )


class KeyHost:
    """The app's JWKS URI: serves one public key, counting how often the bank fetches it."""

    def __init__(self, public: dict[str, Any]) -> None:
        self.fetches = 0
        body = json.dumps({"keys": [public]}).encode()
        host = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                host.fetches += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/jwks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def seed(
    data: Path, port: int, key_host: bool
) -> tuple[str, str, list[tuple[str, str]], Platform, KeyHost | None]:
    platform = Platform.build(_settings(data, port))
    upgrade_database(platform)
    bank = platform.banking
    cid = bank.create_customer(SYSTEM, kind="personal", display_name="bench").id
    account = bank.open_account(SYSTEM, cid, kind="current", currency_code="CNY").id
    bank.deposit(SYSTEM, account, Money.of("1000.00", "CNY"), idempotency_key="bench-fund")
    key = new_key()
    public = key.as_dict(private=False) | {"kid": key.kid}
    host = KeyHost(public) if key_host else None
    app = platform.openbanking.apps.register(
        SYSTEM,
        name="Bench",
        developer="Bench",
        redirect_uris=[REDIRECT],
        jwks=None if host else {"keys": [public]},
        jwks_uri=host.url if host else None,
        scopes=["accounts"],
    )
    platform.openbanking.apps.decide(SYSTEM, app.client_id, AppStatus.APPROVED)
    api_key = platform.api_keys.issue("bench", [Role.TELLER]).plaintext
    (data / "app.json").write_text(
        json.dumps(
            {"client_id": app.client_id, "key": key.as_dict(private=True) | {"kid": key.kid}}
        )
    )
    return cid, account, [(app.client_id, api_key)], platform, host


def connect(platform: Platform, base: str, client_id: str, cid: str, account: str) -> ThirdPartyApp:
    from joserfc.jwk import ECKey

    saved = json.loads((platform.settings.data_dir / "app.json").read_text())
    tpp = ThirdPartyApp(
        http=httpx.Client(timeout=30),
        base_url=base,
        client_id=client_id,
        signing_key=ECKey.import_key(saved["key"]),
        redirect_uri=REDIRECT,
    )
    tpp.discover()
    verifier = "b" * 64
    form = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "code_challenge": b64sha256(verifier),
        "code_challenge_method": "S256",
        "authorization_details": json.dumps(
            [{"type": "account_access", "permissions": ["balances"]}]
        ),
        "dpop_jkt": tpp.dpop_key.thumbprint(),
        "state": "bench",
    }
    body = tpp._oauth_post(tpp.metadata["pushed_authorization_request_endpoint"], form, dpop=False)
    server = platform.openbanking.server
    request_id = server.authorisation_request(
        {"client_id": client_id, "request_uri": body["request_uri"]}
    )
    redirect = server.approve(
        Principal.customer(cid), request_id, [account], banking_accounts={account: "CNY"}
    )
    tpp.exchange(ThirdPartyApp.callback(redirect), verifier=verifier, state="bench")
    return tpp


def serve(data: Path, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "FINBRIDGE_DATA_DIR": str(data),
        "FINBRIDGE_IDENTITY__PASSWORD_HASHING": "fast",
        "FINBRIDGE_OPENBANKING__ISSUER": f"http://127.0.0.1:{port}",
        # Throughput is measured, not the limits: 8 clients of one app pass 600/minute quickly.
        "FINBRIDGE_RATE_LIMITS__ENABLED": "false",
    }
    cmd = [str(ROOT / ".venv/bin/finbridge"), "serve", "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.kill()
    sys.exit("finbridge serve did not become ready")


def phase(name: str, calls: list[Callable[[], None]], requests: int) -> None:
    def run(call: Callable[[], None]) -> list[float]:
        times = []
        for _ in range(requests):
            started = time.perf_counter()
            call()
            times.append((time.perf_counter() - started) * 1000)
        return times

    started = time.perf_counter()
    with ThreadPoolExecutor(len(calls)) as pool:
        times = [t for part in pool.map(run, calls) for t in part]
    elapsed = time.perf_counter() - started
    p50 = statistics.median(times)
    p99 = statistics.quantiles(times, n=100, method="inclusive")[98]
    print(f"{name:<34} {len(times) / elapsed:8.1f} req/s   p50 {p50:7.1f} ms   p99 {p99:7.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=200, help="per client and kind")
    parser.add_argument("--port", type=int, default=8797)
    parser.add_argument("--jwks-uri", action="store_true", help="keys at a JWKS URI, not inline")
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="finbridge-ob-bench-"))
    cid, account, ((client_id, api_key),), platform, host = seed(data, args.port, args.jwks_uri)
    proc = serve(data, args.port)
    try:
        base = f"http://127.0.0.1:{args.port}"
        apps = [connect(platform, base, client_id, cid, account) for _ in range(CLIENTS)]
        plain = [
            httpx.Client(base_url=base, timeout=30, headers={"X-API-Key": api_key})
            for _ in range(CLIENTS)
        ]
        keys = f"JWKS URI {host.url}" if host else "inline JWKS"
        print(f"{SystemClock().now():%Y-%m-%d %H:%M:%S} UTC; {CLIENTS} clients x {args.requests} "
              f"requests each; {keys}; load before {os.getloadavg()}")  # fmt: skip

        def dpop_read(tpp: ThirdPartyApp) -> Callable[[], None]:
            return lambda: tpp.get(f"/open-banking/v1/accounts/{account}/balances") and None

        def key_read(client: httpx.Client) -> Callable[[], None]:
            def call() -> None:
                r = client.get(f"/v1/accounts/{account}/balance")
                assert r.status_code == 200, r.text

            return call

        def refresh(tpp: ThirdPartyApp) -> Callable[[], None]:
            return lambda: tpp.refresh() and None

        phase("plain API-key balance read", [key_read(c) for c in plain], args.requests)
        phase("DPoP-bound balance read", [dpop_read(a) for a in apps], args.requests)
        phase("token (refresh, pk_jwt + DPoP)", [refresh(a) for a in apps], args.requests)
        phase("plain API-key balance read (again)", [key_read(c) for c in plain], args.requests)
        print(f"{SystemClock().now():%H:%M:%S} UTC; load after {os.getloadavg()}")
        if host is not None:
            print(f"the server fetched the JWKS {host.fetches} times")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        platform.close()


if __name__ == "__main__":
    main()

"""Run the example third-party app against a finbridge server, as its own process.

    finbridge demo                      # seeds the demo apps, writes var/openbanking-demo-app.json
    finbridge serve                     # the bank, on http://127.0.0.1:8000
    cd examples && python -m thirdparty_app --bank http://127.0.0.1:8000 \\
        --app-file ../var/openbanking-demo-app.json

It pushes an account-access request, prints the URL to open in a browser (sign in to the
customer app and allow), catches the redirect on its own registered callback, exchanges the code
(PKCE + DPoP + private_key_jwt) and prints the accounts, balances and latest transactions.
``--pay AMOUNT --creditor ACCOUNT`` asks for a single-payment consent instead and pays once.
``--connect`` waits for the customer to press Connect in the app store instead (the bank sends
the browser to our ``/connect``, OpenID Connect third-party-initiated login).
``--jwks-port N`` publishes our public key at ``http://127.0.0.1:N/jwks`` while we run, for an
app registered with that ``jwks_uri`` instead of an inline JWKS (the bank fetches it when we
authenticate; a real app serves it over https from its own domain).
"""

from __future__ import annotations

import argparse
import json
import secrets
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from joserfc.jwk import ECKey

from thirdparty_app.client import OAuthRefused, ThirdPartyApp


def wait_for_callback(redirect_uri: str, connect: Callable[[str], str] | None = None) -> str:
    """Serve the redirect URI once (loopback only) and return the full URL the browser hit.
    With ``connect``, ``/connect`` on the same origin is the app's login initiation URI: the
    bank's app store sends the customer there, ``connect`` pushes the request and returns the
    bank URL to send the browser on to."""
    parts = urlsplit(redirect_uri)
    caught: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            if connect is not None and path == "/connect":
                try:
                    location = connect(f"{parts.scheme}://{parts.netloc}{self.path}")
                except OAuthRefused as exc:
                    self._answer(400, str(exc).encode())
                    return
                self.send_response(303)
                self.send_header("location", location)
                self.end_headers()
                return
            if path == parts.path:
                caught.append(f"{parts.scheme}://{parts.netloc}{self.path}")
            self._answer(200, b"Done: you can close this tab and go back to the terminal.")

        def _answer(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("content-type", "text/plain; charset=utf-8")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return None

    server = HTTPServer((parts.hostname or "127.0.0.1", parts.port or 80), Handler)
    while not caught:
        server.handle_request()
    server.server_close()
    return caught[0]


def publish_jwks(key: ECKey, port: int) -> None:
    """Serve our public key (never the private one) at ``/jwks`` in a background thread."""
    body = json.dumps({"keys": [key.as_dict(private=False) | {"kid": key.kid}]}).encode()

    class Keys(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            found = urlsplit(self.path).path == "/jwks"
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body) if found else 0))
            self.end_headers()
            if found:
                self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", port), Keys)
    threading.Thread(target=server.serve_forever, daemon=True).start()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--bank", default="http://127.0.0.1:8000")
    parser.add_argument("--app-file", type=Path, required=True, help="client_id, key, redirect_uri")
    parser.add_argument("--pay", help="amount of a single payment (CNY) instead of reading")
    parser.add_argument("--creditor", help="the account to pay")
    parser.add_argument(
        "--connect",
        action="store_true",
        help="wait for the bank's app store Connect (our /connect) instead of printing a URL",
    )
    parser.add_argument("--jwks-port", type=int, help="publish our public key on this port")
    args = parser.parse_args()
    saved = json.loads(args.app_file.read_text(encoding="utf-8"))
    if args.jwks_port:
        publish_jwks(ECKey.import_key(saved["key"]), args.jwks_port)
    with httpx.Client(timeout=30) as http:
        app = ThirdPartyApp(
            http=http,
            base_url=args.bank.rstrip("/"),
            client_id=saved["client_id"],
            signing_key=ECKey.import_key(saved["key"]),
            redirect_uri=saved["redirect_uri"],
        )
        if args.pay:
            details = [
                {
                    "type": "payment",
                    "instructed_amount": args.pay,
                    "currency": "CNY",
                    "creditor_account": args.creditor,
                }
            ]
        else:
            details = [
                {
                    "type": "account_access",
                    "expires_in_days": 30,
                    "permissions": ["accounts", "balances", "transactions"],
                }
            ]
        state = secrets.token_urlsafe(16)
        pushed: list[str] = []
        if args.connect:

            def connect(initiated: str) -> str:
                url, verifier = app.connect(initiated, details, state=state)
                pushed.append(verifier)
                return url

            print("Press Connect on this app in the customer app's app store.")
            returned = wait_for_callback(app.redirect_uri, connect)
            verifier = pushed[-1]
        else:
            url, verifier = app.push(details, state=state)
            print(f"Open this in your browser and allow the request:\n\n  {url}\n")
            returned = wait_for_callback(app.redirect_uri)
        tokens = app.exchange(app.callback(returned), verifier=verifier, state=state)
        print(f"authorised: consent {tokens.consent_id}, DPoP key {app.dpop_key.thumbprint()}")
        if args.pay:
            paid = app.pay(
                amount=args.pay,
                currency="CNY",
                creditor=args.creditor,
                key=secrets.token_urlsafe(12),
            )
            print(f"payment {paid['payment_id']}: {paid['status']}")
            return
        for account in app.get("/open-banking/v1/accounts"):
            number = account["account_id"]
            balance = app.get(f"/open-banking/v1/accounts/{number}/balances")
            print(f"{account['kind']} {number}: {balance['booked']} {balance['currency']}")
            for move in app.get(f"/open-banking/v1/accounts/{number}/transactions", limit="5"):
                print(
                    f"  {move['booked_at'][:19]} {move['credit_debit']:<6} {move['amount']:>12} "
                    f"{move['description']}"
                )


if __name__ == "__main__":
    main()

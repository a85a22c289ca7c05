"""Run the example third-party app against a finbridge server, as its own process.

    finbridge demo                      # seeds the demo apps, writes var/openbanking-demo-app.json
    finbridge serve                     # the bank, on http://127.0.0.1:8000
    cd examples && python -m thirdparty_app --bank http://127.0.0.1:8000 \\
        --app-file ../var/openbanking-demo-app.json

It pushes an account-access request, prints the URL to open in a browser (sign in to the
customer app and allow), catches the redirect on its own registered callback, exchanges the code
(PKCE + DPoP + private_key_jwt) and prints the accounts, balances and latest transactions.
``--pay AMOUNT --creditor ACCOUNT`` asks for a single-payment consent instead and pays once.
"""

from __future__ import annotations

import argparse
import json
import secrets
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from joserfc.jwk import ECKey

from thirdparty_app.client import ThirdPartyApp


def wait_for_callback(redirect_uri: str) -> str:
    """Serve the redirect URI once (loopback only) and return the full URL the browser hit."""
    parts = urlsplit(redirect_uri)
    caught: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if urlsplit(self.path).path == parts.path:
                caught.append(f"{parts.scheme}://{parts.netloc}{self.path}")
            self.send_response(200)
            self.send_header("content-type", "text/plain; charset=utf-8")
            self.end_headers()
            self.wfile.write(b"Done: you can close this tab and go back to the terminal.")

        def log_message(self, *args: object) -> None:
            return None

    server = HTTPServer((parts.hostname or "127.0.0.1", parts.port or 80), Handler)
    while not caught:
        server.handle_request()
    server.server_close()
    return caught[0]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--bank", default="http://127.0.0.1:8000")
    parser.add_argument("--app-file", type=Path, required=True, help="client_id, key, redirect_uri")
    parser.add_argument("--pay", help="amount of a single payment (CNY) instead of reading")
    parser.add_argument("--creditor", help="the account to pay")
    args = parser.parse_args()
    saved = json.loads(args.app_file.read_text(encoding="utf-8"))
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
        url, verifier = app.push(details, state=state)
        print(f"Open this in your browser and allow the request:\n\n  {url}\n")
        tokens = app.exchange(
            app.callback(wait_for_callback(app.redirect_uri)), verifier=verifier, state=state
        )
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

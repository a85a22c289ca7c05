"""The simulated correspondent bank as a second process over HTTPS (issue 15): our pacs.008
goes to it with mutual TLS, its pacs.002 and later pacs.004 come back when due, and the ledger
settles, releases or credits back exactly. Certificates are made on the real clock (TLS checks
them against it). One correspondent day lasts one real second here, so returns "days later"
arrive within about five seconds."""

from __future__ import annotations

import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from tests.payments.conftest import WalletFn, currency_sums, customer_of

from finbridge.banking import BankingService
from finbridge.core import Money, Principal
from finbridge.correspondent import CorrespondentLink, relay
from finbridge.credit import make_certificates
from finbridge.payments import Beneficiary, PaymentsService

SYSTEM = Principal.system("test")
HANS = Beneficiary(name="Hans Muller", country="DE", bic="DEUTDEFF",
                   iban="DE89370400440532013000")  # fmt: skip
BOMB = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><Document>&lol2;</Document>'
)


@pytest.fixture
def correspondent(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    certs = tmp_path / "certs"
    make_certificates(certs, days=2)
    proc = subprocess.Popen(
        [sys.executable, "-m", "finbridge.correspondent", "--certs", str(certs), "--seed", "7",
         "--reject-rate", "0.25", "--return-rate", "0.3", "--seconds-per-day", "1"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # printed once the port is bound
        assert line.startswith("serving https://"), line
        yield line.split()[1], certs
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.slow
def test_round_trip_with_the_correspondent_process(
    correspondent: tuple[str, Path], lite_pay: PaymentsService, lite_wallets: WalletFn,
    lite_bank: BankingService, sqlite_engine: Engine,
) -> None:  # fmt: skip
    url, certs = correspondent
    link = CorrespondentLink(url, certs)
    me = lite_wallets("Ada Wang", EUR="10000")
    actor = customer_of(me["EUR"])
    sent = [
        lite_pay.crossborder.send(
            actor,
            from_account_id=me["EUR"].id,
            amount=Money.of(f"{100 + i}.00", "EUR"),
            beneficiary=HANS,
            idempotency_key=f"rt{i}",
        )
        for i in range(20)
    ]
    messages, reports, waiting = relay(lite_pay, SYSTEM, link)
    assert messages == 1 and waiting > 0  # the returns are days away
    deadline = time.monotonic() + 30
    while waiting and time.monotonic() < deadline:
        time.sleep(0.5)
        _, more, waiting = relay(lite_pay, SYSTEM, link)
        reports += more
    assert waiting == 0
    assert reports[0].message.startswith("pacs.002")  # the status report comes first
    final = {t.id: lite_pay.crossborder.get(SYSTEM, t.id) for t in sent}
    assert {t.status for t in final.values()} == {"settled", "rejected", "returned"}
    kept = sum((t.amount for t in final.values() if t.status == "settled"), Money.zero("EUR"))
    balance = lite_bank.balance(SYSTEM, me["EUR"].id)
    assert balance.balance == balance.available == Money.of("10000", "EUR") - kept
    assert currency_sums(sqlite_engine)["EUR"] == 0

    # The correspondent refuses a hostile message; a caller without a partnership
    # certificate does not get through the TLS handshake.
    status, body = link.request("POST", "/pacs008", BOMB)
    assert status == 422 and b"entities are refused" in body
    host, port = url.removeprefix("https://").rsplit(":", 1)
    stranger = ssl.create_default_context(cafile=certs / "ca.pem")
    import http.client

    conn = http.client.HTTPSConnection(host, int(port), context=stranger, timeout=5)
    with pytest.raises((ssl.SSLError, ConnectionError, http.client.HTTPException)):
        conn.request("GET", "/health")
        conn.getresponse().read()

"""Demo seeding for payments, through the engine's face, so its console page is never empty.

Three merchants (made-up names) on corporate settlement accounts; CNY, USD and HKD wallets for
the first demo customers, funded at the teller; then real operations by those customers:
QR payments to the merchants (one partly refunded), P2P transfers, FX conversions at quoted
rates, and two cross-border transfers (one exported as pacs.008 and settled by a pacs.002, one
held by a screening hit on the made-up demo list). Idempotent: a demo that finds merchants
seeds nothing. A step the posting guard refuses (risk, step-up) is counted and skipped.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable

from finbridge.core.errors import FinbridgeError
from finbridge.core.money import Money
from finbridge.core.principal import Principal
from finbridge.platform import Platform

_ACTOR = Principal.system("demo")
MERCHANTS = (("Lotus Tea House", "5812", "0.006"), ("Harbour Books", "5942", "0.008"),
             ("Jade Pharmacy", "5912", "0.005"))  # fmt: skip
CUSTOMERS = 12


def seed_payments(platform: Platform, say: Callable[[str], None] = lambda _: None) -> str | None:
    """Seed payments once; a summary line, or None when the demo already has merchants."""
    from finbridge.payments import Beneficiary, Payment

    pay, bank = platform.payments, platform.banking
    if pay.merchants.list(_ACTOR, limit=1):
        return None
    say("seeding payments: merchants, wallets, QR payments, P2P, FX, cross-border")
    merchants = []
    for name, mcc, fee in MERCHANTS:
        owner = bank.create_customer(_ACTOR, kind="corporate", display_name=name).id
        settle = bank.open_account(_ACTOR, owner, kind="current", currency_code="CNY").id
        merchant = pay.merchants.onboard(
            _ACTOR, name=name, mcc=mcc, settlement_account_id=settle, fee_rate=fee
        )
        merchants.append(merchant)
    people = [c for c in bank.list_customers(_ACTOR, limit=60).items if c.kind == "personal"]
    wallets: list[tuple[Principal, dict[str, str]]] = []
    for c in people[:CUSTOMERS]:
        accounts = {}
        for cur, funds in (("CNY", "5000"), ("USD", "300"), ("HKD", "0")):
            opened = bank.open_account(_ACTOR, c.id, kind="current", currency_code=cur).id
            if funds != "0":
                bank.deposit(_ACTOR, opened, Money.of(funds, cur), idempotency_key=f"dp-{opened}")
            accounts[cur] = opened
        wallets.append((Principal.customer(c.id), accounts))
    done = 0
    refused: Counter[str] = Counter()

    def attempt(step: Callable[..., object], *args: object, **kwargs: object) -> object | None:
        nonlocal done
        try:
            result = step(*args, **kwargs)
        except FinbridgeError as exc:
            refused[exc.code] += 1
            return None
        done += 1
        return result

    payments = []
    for i, (who, acc) in enumerate(wallets):
        m = merchants[i % len(merchants)]
        amount = Money.of(f"{18 + 7 * i}.{(i * 37) % 100:02d}", "CNY")
        code = pay.merchants.create_code(_ACTOR, m.id, amount=amount, reference=f"order-{i}")
        paid = attempt(pay.payments.pay, who, code.payload, from_account_id=acc["CNY"],
                       idempotency_key=f"demo-qr-{i}")  # fmt: skip
        if isinstance(paid, Payment):
            payments.append(paid)
        other = wallets[(i + 1) % len(wallets)][1]["CNY"]
        attempt(pay.payments.send, who, from_account_id=acc["CNY"], to_account_id=other,
                amount=Money.of(f"{20 + i}", "CNY"), note="dinner",
                idempotency_key=f"demo-p2p-{i}")  # fmt: skip
        buy = "USD" if i % 2 == 0 else "HKD"
        # Conversions at the branch (a teller acting for the customer): a customer's own
        # conversion asks for a second factor the demo's customers have not set up.
        q = pay.fx.quote(_ACTOR, who.customer_id or "", sell_currency="CNY", buy_currency=buy,
                         sell_amount=Money.of(f"{300 + 25 * i}", "CNY"))  # fmt: skip
        attempt(pay.fx.execute, _ACTOR, q.id, from_account_id=acc["CNY"], to_account_id=acc[buy])
    if payments:
        first = payments[0]
        half = Money.rounded(first.amount.amount / 2, "CNY")
        attempt(pay.payments.refund, _ACTOR, first.id, amount=half, idempotency_key="demo-refund-0")
    if wallets:
        sender, usd = wallets[0][0], wallets[0][1]["USD"]
        for key, name in (("demo-xb-0", "Hans Muller"), ("demo-xb-1", "Viktor Petrakis")):
            beneficiary = Beneficiary(name=name, country="DE", bic="DEUTDEFF",
                                      iban="DE89370400440532013000",
                                      address_lines=("Hauptstr. 1", "Berlin"))  # fmt: skip
            attempt(pay.crossborder.send, sender, from_account_id=usd,
                    amount=Money.of("45.00", "USD"), beneficiary=beneficiary, purpose="GDDS",
                    idempotency_key=key)  # fmt: skip
        for _message_id, xml in pay.crossborder.export_pacs008(_ACTOR):
            settled = _accept_all(xml)
            pay.crossborder.receive(_ACTOR, settled)
    why = ", ".join(f"{code}: {n}" for code, n in sorted(refused.items()))
    return (f"payments: {len(merchants)} merchants, {len(wallets)} customers with wallets, "
            f"{done} operations posted, {sum(refused.values())} refused"
            f"{f' ({why})' if why else ''}")  # fmt: skip


def _accept_all(pacs008: bytes) -> bytes:
    """A correspondent's pacs.002 accepting every transfer of ``pacs008`` (the demo has no
    correspondent process yet)."""
    from lxml import etree

    ns = {"d": "urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08"}
    root = etree.fromstring(pacs008)
    ids = [e.text for e in root.iterfind(".//d:CdtTrfTxInf/d:PmtId/d:EndToEndId", ns)]
    lines = "".join(f"<TxInfAndSts><OrgnlEndToEndId>{e}</OrgnlEndToEndId><TxSts>ACSC</TxSts>"
                    "</TxInfAndSts>" for e in ids)  # fmt: skip
    return (
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pacs.002.001.12"><FIToFIPmtStsRpt>'
        "<GrpHdr><MsgId>DEMO-STATUS</MsgId><CreDtTm>2026-01-01T00:00:00</CreDtTm></GrpHdr>"
        f"{lines}</FIToFIPmtStsRpt></Document>"
    ).encode()


def seed_app_payments(platform: Platform, customer_id: str, payee_phone: str) -> str | None:
    """What the app's demo customer sees on ``/app/pay``: payments to the demo merchants (one
    from a credit line granted for the demo, one partly refunded), money sent to the demo payee
    by mobile number, and an open request link. Returns a line with a merchant's static code to
    paste into the Pay page; None when the customer has paid before (a second demo) or there
    are no merchants. Each step goes through the face as the customer, so the posting guard
    judges it; a refused step is skipped."""
    from finbridge.payments import Payment

    pay, bank = platform.payments, platform.banking
    me = Principal.customer(customer_id)
    merchants = pay.merchants.list(_ACTOR, limit=10)
    if not merchants or pay.payments.search(me, limit=1):
        return None
    codes = {m.id: pay.merchants.create_code(_ACTOR, m.id, reference="counter") for m in merchants}
    deposit = next(
        a for a in bank.list_accounts(_ACTOR, customer_id=customer_id, limit=20).items
        if a.currency == "CNY" and a.kind.value == "current"
    )  # fmt: skip
    line = _demo_line(platform, customer_id, deposit.id)
    spends = [(deposit.id, "36.00"), (deposit.id, "128.50"), (line or deposit.id, "259.00")]
    paid: list[Payment] = []
    for i, (source, amount) in enumerate(spends):
        m = merchants[i % len(merchants)]
        try:
            paid.append(pay.payments.pay(me, codes[m.id].payload, from_account_id=source,
                                         amount=Money.of(amount, "CNY"),
                                         idempotency_key=f"demo-app-pay-{i}"))  # fmt: skip
        except FinbridgeError:
            continue
    if paid:
        with contextlib.suppress(FinbridgeError):
            pay.payments.refund(_ACTOR, paid[0].id, amount=Money.of("12.00", "CNY"),
                                idempotency_key="demo-app-refund-0")  # fmt: skip
    with contextlib.suppress(FinbridgeError):
        pay.payments.send(me, from_account_id=deposit.id, phone=payee_phone,
                          amount=Money.of("88.00", "CNY"), note="聚餐 AA",
                          idempotency_key="demo-app-p2p-0")  # fmt: skip
    pay.payments.request_money(me, to_account_id=deposit.id, amount=Money.of("45.00", "CNY"),
                               note="电影票")  # fmt: skip
    first = merchants[-1]
    return (f"{len(paid)} payments ({'one from a credit line, ' if line else ''}one refunded in "
            f"part), a P2P, an open request link; a code to paste in /app/pay ({first.name}): "
            f"{codes[first.id].payload}")  # fmt: skip


def _demo_line(platform: Platform, customer_id: str, deposit_id: str) -> str | None:
    """A small credit line granted to the demo customer by the demo operator (said so on the
    record), so the Pay page can show a payment from a line."""
    try:
        lending = platform.lending
        lending.install_catalogue(_ACTOR)
        app = lending.grant_line(
            _ACTOR, customer_id, product_id="everyday@1", limit=Money.of("5000", "CNY"),
            deposit_account_id=deposit_id, reason="demo customer", idempotency_key="demo-app-line",
        )  # fmt: skip
    except FinbridgeError:
        return None
    if app.line_id is None:
        return None
    return lending.line(_ACTOR, app.line_id).account_id

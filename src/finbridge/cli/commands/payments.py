"""``finbridge payments``: FX rates and positions, merchants and their payment codes, payments.

The engine is imported inside each command, so ``finbridge --help`` loads none of it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from finbridge.cli.context import console, platform_context
from finbridge.core.money import Money
from finbridge.core.principal import Principal

CLI_ACTOR = Principal.system("cli")

payments_app = typer.Typer(
    help="Payments: FX rates and positions, merchants, payment codes, payments.",
    no_args_is_help=True,
)


@payments_app.command("rates")
def rates(
    base: Annotated[str, typer.Argument(help="e.g. USD")] = "USD",
    quote: Annotated[str, typer.Argument(help="e.g. CNY")] = "CNY",
    days: Annotated[int, typer.Option(help="How many days back")] = 14,
) -> None:
    """ECB reference rates for a pair (shipped history; no network)."""
    with platform_context() as platform:
        fx = platform.payments.fx
        fx.reference(base.upper(), quote.upper())
        table = Table(title=f"{base.upper()}/{quote.upper()} (ECB reference)")
        table.add_column("date")
        table.add_column("rate", justify="right")
        for r in fx.rate_history(base.upper(), quote.upper(), days):
            table.add_row(r.as_of.isoformat(), str(r.rate))
        console.print(table)


@payments_app.command("positions")
def positions() -> None:
    """The bank's FX position per currency and its CNY value at today's reference rate."""
    with platform_context() as platform:
        table = Table(title="FX positions")
        for col in ("currency", "position", "CNY equivalent"):
            table.add_column(col, justify="right" if col != "currency" else "left")
        for p in platform.payments.fx.positions(CLI_ACTOR):
            cny = "" if p.cny_equivalent is None else f"{p.cny_equivalent.amount:,}"
            table.add_row(p.currency, f"{p.position.amount:,}", cny)
        console.print(table)


@payments_app.command("merchants")
def merchants(limit: Annotated[int, typer.Option(min=1, max=200)] = 50) -> None:
    """List merchants, newest first."""
    with platform_context() as platform:
        table = Table(title="Merchants")
        for col in ("id", "name", "MCC", "currency", "fee rate", "status"):
            table.add_column(col)
        for m in platform.payments.merchants.list(CLI_ACTOR, limit=limit):
            table.add_row(m.id, escape(m.name), m.mcc, m.currency, str(m.fee_rate), m.status)
        console.print(table)


@payments_app.command("onboard")
def onboard(
    name: Annotated[str, typer.Option(help="Merchant's trading name")],
    mcc: Annotated[str, typer.Option(help="ISO 18245 merchant category code, 4 digits")],
    account: Annotated[str, typer.Option(help="Settlement account id (a customer's account)")],
    fee_rate: Annotated[str, typer.Option(help='Fee as a decimal fraction, e.g. "0.006"')],
) -> None:
    """Onboard a merchant on an existing settlement account."""
    with platform_context() as platform:
        m = platform.payments.merchants.onboard(
            CLI_ACTOR, name=name, mcc=mcc, settlement_account_id=account, fee_rate=fee_rate
        )
        console.print(f"merchant {m.id} ({escape(m.name)}) settles into {m.settlement_account_id}")


@payments_app.command("code")
def code(
    merchant_id: Annotated[str, typer.Argument(help="Merchant id")],
    amount: Annotated[str | None, typer.Option(help="Fixed amount: a dynamic code")] = None,
    png: Annotated[Path | None, typer.Option(help="Write the QR image here")] = None,
) -> None:
    """Issue a payment code (static, or dynamic with --amount) and print its payload."""
    from finbridge.payments import qr_png

    with platform_context() as platform:
        desk = platform.payments.merchants
        merchant = desk.get(CLI_ACTOR, merchant_id)
        money = None if amount is None else Money.of(amount, merchant.currency)
        issued = desk.create_code(CLI_ACTOR, merchant_id, amount=money)
        console.print(issued.payload, soft_wrap=True)
        if png is not None:
            png.write_bytes(qr_png(issued.payload))
            console.print(f"QR written to {png}")


@payments_app.command("settlement")
def settlement(
    merchant_id: Annotated[str, typer.Argument(help="Merchant id")],
    day: Annotated[str, typer.Argument(help="Business day, YYYY-MM-DD")],
    out: Annotated[Path | None, typer.Option(help="Write the CSV here")] = None,
) -> None:
    """The merchant's settlement file for DAY, reconciled to the ledger."""
    import datetime as dt

    from finbridge.core.errors import ValidationError

    try:
        when = dt.date.fromisoformat(day)
    except ValueError:
        raise ValidationError("day must be YYYY-MM-DD", field="day") from None
    with platform_context() as platform:
        report = platform.payments.settlement.daily(CLI_ACTOR, merchant_id, when)
        if out is not None:
            out.write_text(report.csv(), encoding="utf-8")
        console.print(
            f"{len(report.lines)} lines, net {report.net_total}, ledger {report.ledger_total}: "
            + ("reconciled" if report.reconciled else f"NOT reconciled {report.mismatches}")
        )


@payments_app.command("camt053")
def camt053(
    account_id: Annotated[str, typer.Argument(help="Account id")],
    day: Annotated[str, typer.Argument(help="Business day, YYYY-MM-DD (a finished one)")],
    out: Annotated[Path | None, typer.Option(help="Write the XML here")] = None,
) -> None:
    """The account's end-of-day statement for DAY as camt.053.001.08, valid against the
    official XSD (opening + entries = closing, from the ledger)."""
    import datetime as dt

    from finbridge.core.errors import ValidationError

    with platform_context() as platform:  # reports a bad DAY as it reports every error
        try:
            when = dt.date.fromisoformat(day)
        except ValueError:
            raise ValidationError("day must be YYYY-MM-DD", field="day") from None
        xml = platform.payments.statements.camt053(CLI_ACTOR, account_id, when)
    target = out or Path(f"{account_id}-{when.isoformat()}.camt053.xml")
    target.write_bytes(xml)
    console.print(f"{target} ({xml.count(b'<Ntry>')} entries, XSD-valid)")


@payments_app.command("import-pain001")
def import_pain001(
    file: Annotated[Path, typer.Argument(help="A customer's pain.001.001.09 batch file")],
) -> None:
    """Check a pain.001 batch whole (XSD, totals, beneficiaries) and send each transfer once
    (held until the next pacs.008 export; importing it again sends nothing twice)."""
    with platform_context() as platform:
        sent = platform.payments.crossborder.import_pain001(CLI_ACTOR, file.read_bytes())
        held = sum(1 for t in sent if t.status == "screening")
        again = sum(1 for t in sent if t.replayed)
        console.print(f"{len(sent)} transfers ({again} already imported, {held} held by screening)")


@payments_app.command("export-pacs008")
def export_pacs008(
    out: Annotated[Path, typer.Option(help="Directory for the messages")] = Path("."),
) -> None:
    """Write every ready cross-border transfer as pacs.008.001.08 (one file per currency),
    each validated against the official XSD; the transfers are then marked sent."""
    with platform_context() as platform:
        messages = platform.payments.crossborder.export_pacs008(CLI_ACTOR)
        if not messages:
            console.print("no cross-border transfer is ready")
            return
        out.mkdir(parents=True, exist_ok=True)
        for message_id, xml in messages:
            target = out / f"{message_id}.pacs008.xml"
            target.write_bytes(xml)
            console.print(f"{target} ({xml.count(b'<CdtTrfTxInf>')} transfers, XSD-valid)")


@payments_app.command("receive")
def receive(file: Annotated[Path, typer.Argument(help="A pacs.002 or pacs.004 XML file")]) -> None:
    """Apply a correspondent's pacs.002 status report or pacs.004 return to the ledger."""
    with platform_context() as platform:
        report = platform.payments.crossborder.receive(CLI_ACTOR, file.read_bytes())
        console.print(
            f"{report.message}: settled {len(report.settled)}, rejected {len(report.rejected)}, "
            f"returned {len(report.returned)}, unchanged {len(report.unchanged)}"
        )


@payments_app.command("relay")
def relay(
    url: Annotated[str, typer.Argument(help="The correspondent, e.g. https://127.0.0.1:8443")],
    certs: Annotated[Path, typer.Option(help="Partnership certificates (ours: bank)")],
    every: Annotated[float, typer.Option(help="Seconds between rounds; 0: one round")] = 0.0,
) -> None:
    """Send the ready transfers' pacs.008 to the correspondent (``python -m
    finbridge.correspondent``) over mutual TLS and apply its due pacs.002/pacs.004 answers."""
    import time

    from finbridge.correspondent import CorrespondentLink
    from finbridge.correspondent import relay as relay_round

    link = CorrespondentLink(url, certs)
    with platform_context() as platform:
        while True:
            sent, reports, waiting = relay_round(platform.payments, CLI_ACTOR, link)
            done = {k: sum(len(getattr(r, k)) for r in reports)
                    for k in ("settled", "rejected", "returned")}  # fmt: skip
            console.print(f"sent {sent} messages; settled {done['settled']}, rejected "
                          f"{done['rejected']}, returned {done['returned']}; {waiting} answers "
                          "still to come")  # fmt: skip
            if every <= 0:
                return
            time.sleep(every)


def register(app: typer.Typer) -> None:
    app.add_typer(payments_app, name="payments")

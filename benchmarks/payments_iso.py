"""camt.053 statements and pain.001 imports: the message alone and through payments' desks.

* camt.053.001.08 for one account-day of ``--entries`` postings: building the message with
  the pyiso20022 binding + XSD validation (entries/s), and the whole desk call on SQLite (the
  day's postings read back from banking's history, the reconciliation to the ledger, the
  message);
* pain.001.001.09 with ``--transactions`` credit transfers: reading it (defusedxml probe, XSD
  validation, group totals; transactions/s), and ``import_pain001`` through the desk on SQLite
  for ``--imported`` of them (the whole file checked, then per transfer: IBAN/BIC checks,
  sanctions screening with rapidfuzz, a hold on the ledger, the transfer row; transfers/s).
  The posting guard is banking's approve-all here (risk's decision per hold is measured in
  payments_api.py), so the figure is the payments path itself.

    .venv/bin/python benchmarks/payments_iso.py [--entries 2000] [--transactions 4000]

payments refuses an incoming message over 2 MiB, about 5,000 of these transactions.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from finbridge.banking import ApproveAll
from finbridge.core import ManualClock, Money, Principal, Settings
from finbridge.payments.iso20022.camt053 import StatementEntry, camt053
from finbridge.payments.iso20022.pain001 import read_pain001
from finbridge.platform import Platform, upgrade_database
from finbridge.store import make_engine

SYSTEM = Principal.system("bench")
DAY = date(2026, 11, 2)
IBANS = ("DE89370400440532013000", "FR1420041010050500013M02606", "NL91ABNA0417164300")
BICS = ("DEUTDEFF", "BNPAFRPP", "ABNANL2A")
NAMES = ("Hans Muller", "Claire Dubois", "Emma Jansen")
COUNTRIES = ("DE", "FR", "NL")


def _load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def pain001(account: str, n: int) -> bytes:
    txs = []
    for i in range(n):
        k = i % 3
        txs.append(
            f"<CdtTrfTxInf><PmtId><EndToEndId>E{i}</EndToEndId></PmtId>"
            f'<Amt><InstdAmt Ccy="EUR">{1 + i % 50}.{i % 100:02d}</InstdAmt></Amt>'
            f"<CdtrAgt><FinInstnId><BICFI>{BICS[k]}</BICFI></FinInstnId></CdtrAgt>"
            f"<Cdtr><Nm>{NAMES[k]}</Nm><PstlAdr><Ctry>{COUNTRIES[k]}</Ctry>"
            "<AdrLine>Main Street 1</AdrLine></PstlAdr></Cdtr>"
            f"<CdtrAcct><Id><IBAN>{IBANS[k]}</IBAN></Id></CdtrAcct>"
            f"<RmtInf><Ustrd>invoice {i}</Ustrd></RmtInf></CdtTrfTxInf>"
        )
    total = sum(Decimal(f"{1 + i % 50}.{i % 100:02d}") for i in range(n))
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"><CstmrCdtTrfInitn>'
        f"<GrpHdr><MsgId>BENCH-{n}</MsgId><CreDtTm>2026-11-02T09:00:00</CreDtTm>"
        f"<NbOfTxs>{n}</NbOfTxs><CtrlSum>{total}</CtrlSum><InitgPty><Nm>Ada Wang</Nm>"
        "</InitgPty></GrpHdr><PmtInf><PmtInfId>P1</PmtInfId><PmtMtd>TRF</PmtMtd>"
        "<ReqdExctnDt><Dt>2026-11-02</Dt></ReqdExctnDt><Dbtr><Nm>Ada Wang</Nm></Dbtr>"
        f"<DbtrAcct><Id><Othr><Id>{account.replace('-', '')}</Id></Othr></Id></DbtrAcct>"
        "<DbtrAgt><FinInstnId><BICFI>FBRGCNSHXXX</BICFI></FinInstnId></DbtrAgt>"
        f"{''.join(txs)}</PmtInf></CstmrCdtTrfInitn></Document>"
    ).encode()


def messages_only(entries: int, transactions: int) -> None:
    start = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)
    lines = [StatementEntry(f"E{i:032d}", Decimal(f"{(-1) ** i * (1 + i % 90)}.25"),
                            start + timedelta(seconds=i), "transfer", f"posting {i}")
             for i in range(entries)]  # fmt: skip
    camt053("WARM", start, account_id="A", currency="CNY", day=DAY,
            period=(start, start + timedelta(days=1)), opening=Decimal(100_000),
            entries=lines[:10], servicer_bic="FBRGCNSHXXX")  # fmt: skip
    t0 = time.perf_counter()
    xml = camt053("BENCH", start, account_id="A" * 30, currency="CNY", day=DAY,
                  period=(start, start + timedelta(days=1)), opening=Decimal(100_000),
                  entries=lines, servicer_bic="FBRGCNSHXXX")  # fmt: skip
    took = time.perf_counter() - t0
    print(f"camt.053 message, {entries:,} entries: {took:.2f} s, {entries / took:,.0f} "
          f"entries/s, {len(xml) / 1e6:.1f} MB, XSD-valid (load {_load()})")  # fmt: skip
    data = pain001("0" * 32, transactions)
    read_pain001(pain001("0" * 32, 10))  # parse the XSD once, outside the timing
    t0 = time.perf_counter()
    read = read_pain001(data)
    took = time.perf_counter() - t0
    print(f"pain.001 read, {len(read):,} transactions: {took:.2f} s, {len(read) / took:,.0f} "
          f"transactions/s, {len(data) / 1e6:.1f} MB (load {_load()})")  # fmt: skip


def through_the_desks(entries: int, imported: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(env="development", data_dir=Path(tmp))
        engine = make_engine(f"sqlite:///{tmp}/bench.db")
        clock = ManualClock(datetime(2026, 11, 2, 2, 0, tzinfo=UTC))  # 10:00 in Shanghai
        platform = Platform(settings, engine, clock)
        platform.use_posting_guard(ApproveAll())
        upgrade_database(platform)
        bank, pay = platform.banking, platform.payments
        cid = bank.create_customer(SYSTEM, kind="personal", display_name="Ada Wang").id
        cny = bank.open_account(SYSTEM, cid, kind="current", currency_code="CNY").id
        eur = bank.open_account(SYSTEM, cid, kind="current", currency_code="EUR").id
        bank.deposit(SYSTEM, eur, Money.of("1000000", "EUR"), idempotency_key="fund-eur")
        for i in range(entries):
            clock.advance(timedelta(seconds=1))
            bank.deposit(SYSTEM, cny, Money.of(f"{1 + i % 90}.25", "CNY"),
                         idempotency_key=f"d{i}")  # fmt: skip
        clock.set(datetime(2026, 11, 2, 20, 0, tzinfo=UTC))  # the next day in Shanghai
        t0 = time.perf_counter()
        xml = pay.statements.camt053(SYSTEM, cny, DAY)
        took = time.perf_counter() - t0
        print(f"camt.053 through the desk (SQLite), {entries:,} postings read from the ledger "
              f"and reconciled: {took:.2f} s, {entries / took:,.0f} entries/s, "
              f"{len(xml) / 1e6:.1f} MB (load {_load()})")  # fmt: skip
        data = pain001(eur, imported)
        t0 = time.perf_counter()
        sent = pay.crossborder.import_pain001(Principal.customer(cid), data)
        took = time.perf_counter() - t0
        print(f"pain.001 import through the desk (SQLite), {len(sent):,} transfers checked, "
              f"screened and held: {took:.2f} s, {len(sent) / took:,.1f} transfers/s "
              f"(load {_load()})")  # fmt: skip
        platform.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=2_000)
    parser.add_argument("--transactions", type=int, default=4_000)  # 2 MiB cap
    parser.add_argument("--imported", type=int, default=500)
    args = parser.parse_args()
    print(f"load {_load()}")
    messages_only(args.entries, args.transactions)
    through_the_desks(args.entries, args.imported)


if __name__ == "__main__":
    main()

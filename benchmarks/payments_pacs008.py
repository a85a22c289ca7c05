"""pacs.008 generation and XSD validation for a 10,000-payment batch.

Two shapes, both built by ``finbridge.payments.iso20022.pacs008`` (pyiso20022 dataclasses,
xsdata serialiser, lxml validation against the official pacs.008.001.08 XSD):

* one message per payment (what a per-transfer gateway sends): messages/s;
* one message carrying the whole batch: seconds for the batch, transactions/s.

    .venv/bin/python benchmarks/payments_pacs008.py [--payments 10000]
"""

from __future__ import annotations

import argparse
import os
import time
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

from finbridge.payments import iso20022 as iso

NAMES = ("Hans Muller", "Claire Dubois", "Luca Bianchi", "Emma Jansen", "Oliver Smith")
IBANS = ("DE89370400440532013000", "FR1420041010050500013M02606", "IT60X0542811101000000123456",
         "NL91ABNA0417164300", "GB29NWBK60161331926819")  # fmt: skip
BICS = ("DEUTDEFFXXX", "BNPAFRPPXXX", "UNCRITMMXXX", "ABNANL2AXXX", "NWBKGB2LXXX")
COUNTRIES = ("DE", "FR", "IT", "NL", "GB")


def transfers(n: int) -> list[iso.CreditTransfer]:
    out = []
    for i in range(n):
        k = i % len(NAMES)
        out.append(iso.CreditTransfer(
            end_to_end_id=f"FB{i:030d}", uetr=str(uuid.UUID(int=i + 1, version=4)),
            amount=Decimal(f"{100 + i % 900}.{i % 100:02d}"), currency="EUR",
            debtor=iso.Party("Ada Wang", "CN", ("1 Bund Road", "Shanghai")),
            debtor_account=f"{i:032x}",
            creditor=iso.Party(NAMES[k], COUNTRIES[k], ("Main Street 1",)),
            creditor_iban=IBANS[k], creditor_account=None, creditor_bic=BICS[k],
            purpose="GDDS", remittance=f"invoice {i}",
        ))  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--payments", type=int, default=10_000)
    args = parser.parse_args()
    batch = transfers(args.payments)
    created, day = datetime(2026, 11, 2, 8, 0, tzinfo=UTC), date(2026, 11, 2)
    iso.schema(iso.PACS008)  # parse the XSD once, outside the timings
    print(f"{args.payments:,} payments, load {os.getloadavg()}")

    t0 = time.perf_counter()
    size = 0
    for i, t in enumerate(batch):
        size += len(iso.pacs008(f"M{i:020d}", created, day, [t], debtor_agent_bic="FBRGCNSHXXX"))
    single = time.perf_counter() - t0
    print(f"one message per payment: {args.payments / single:8.1f} messages/s "
          f"({single:.1f} s, {size / args.payments:,.0f} bytes each), all XSD-valid")  # fmt: skip

    t0 = time.perf_counter()
    xml = iso.pacs008("MBATCH", created, day, batch, debtor_agent_bic="FBRGCNSHXXX")
    whole = time.perf_counter() - t0
    print(f"one batch message:       {args.payments / whole:8.1f} transactions/s "
          f"({whole:.2f} s, {len(xml) / 1e6:.1f} MB), XSD-valid")  # fmt: skip


if __name__ == "__main__":
    main()

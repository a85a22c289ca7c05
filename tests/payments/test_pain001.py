"""pain.001 batch import: validated against the official XSD and its own totals, every
beneficiary checked before any money is held, one cross-border transfer per instruction,
idempotent per EndToEndId; bad files refused naming what is wrong, changing nothing."""

from __future__ import annotations

import pytest
from tests.payments.conftest import WalletFn, customer_of

from finbridge.banking import BankingService
from finbridge.core import Money, Principal, ValidationError
from finbridge.payments import PaymentsService

SYSTEM = Principal.system("t")


def _tx(e2e: str, amount: str, iban: str, name: str = "Hans Muller") -> str:
    return f"""<CdtTrfTxInf><PmtId><EndToEndId>{e2e}</EndToEndId></PmtId>
<Amt><InstdAmt Ccy="EUR">{amount}</InstdAmt></Amt>
<CdtrAgt><FinInstnId><BICFI>DEUTDEFF</BICFI></FinInstnId></CdtrAgt>
<Cdtr><Nm>{name}</Nm><PstlAdr><Ctry>DE</Ctry><AdrLine>Hauptstr. 1</AdrLine></PstlAdr></Cdtr>
<CdtrAcct><Id><IBAN>{iban}</IBAN></Id></CdtrAcct>
<RmtInf><Ustrd>invoice {e2e}</Ustrd></RmtInf></CdtTrfTxInf>"""


def _pain001(account: str, txs: list[str], count: int, total: str, ns: str = "09") -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.{ns}"><CstmrCdtTrfInitn>
<GrpHdr><MsgId>BATCH-1</MsgId><CreDtTm>2026-11-02T09:00:00</CreDtTm><NbOfTxs>{count}</NbOfTxs>
<CtrlSum>{total}</CtrlSum><InitgPty><Nm>Ada Wang</Nm></InitgPty></GrpHdr>
<PmtInf><PmtInfId>P1</PmtInfId><PmtMtd>TRF</PmtMtd><ReqdExctnDt><Dt>2026-11-02</Dt></ReqdExctnDt>
<Dbtr><Nm>Ada Wang</Nm></Dbtr>
<DbtrAcct><Id><Othr><Id>{account.replace("-", "")}</Id></Othr></Id></DbtrAcct>
<DbtrAgt><FinInstnId><BICFI>FBRGCNSHXXX</BICFI></FinInstnId></DbtrAgt>
{"".join(txs)}</PmtInf></CstmrCdtTrfInitn></Document>""".encode()


GOOD = "DE89370400440532013000"
BAD = "DE89370400440532013001"  # checksum


def test_a_batch_becomes_held_transfers_once(
    pay: PaymentsService, wallets: WalletFn, bank: BankingService
) -> None:
    me = wallets("Ada Wang", EUR="1000")
    actor = customer_of(me["EUR"])
    data = _pain001(me["EUR"].id, [_tx("E1", "150.00", GOOD), _tx("E2", "300.00", GOOD)], 2,
                    "450.00")  # fmt: skip
    sent = pay.crossborder.import_pain001(actor, data)
    assert [(t.status, t.amount) for t in sent] == [
        ("ready", Money.of("150", "EUR")), ("ready", Money.of("300", "EUR"))]  # fmt: skip
    assert bank.balance(SYSTEM, me["EUR"].id).available == Money.of("550", "EUR")
    again = pay.crossborder.import_pain001(actor, data)
    assert all(t.replayed for t in again) and [t.id for t in again] == [t.id for t in sent]
    assert bank.balance(SYSTEM, me["EUR"].id).available == Money.of("550", "EUR")


@pytest.mark.parametrize(
    ("txs", "count", "total", "ns", "field", "match"),
    [
        ([_tx("E1", "150.00", GOOD)], 2, "150.00", "09", "NbOfTxs", "holds 1"),
        ([_tx("E1", "150.00", GOOD)], 1, "151.00", "09", "CtrlSum", "sum"),
        ([_tx("E1", "1.00", GOOD), _tx("E2", "2.00", BAD)], 2, "3.00", "09",
         "CdtTrfTxInf[1].beneficiary.iban", "E2"),
        ([_tx("E1", "1.00", GOOD, name="Hans Müller")], 1, "1.00", "09",
         "CdtTrfTxInf[0].beneficiary.name", "character"),
        ([_tx("E1", "1.001", GOOD)], 1, "1.001", "09", "CdtTrfTxInf[0].amount", "decimal places"),
        ([_tx("E1", "1.00", GOOD)], 1, "1.00", "03", "message", "expected a pain.001.001.09"),
        ([_tx("E1", "abc", GOOD)], 1, "1.00", "09", "message", "fails its XSD"),
    ],
)  # fmt: skip
def test_a_bad_file_is_refused_naming_what_is_wrong_and_holds_nothing(
    lite_pay: PaymentsService, lite_wallets: WalletFn, lite_bank: BankingService,
    txs: list[str], count: int, total: str, ns: str, field: str, match: str,
) -> None:  # fmt: skip
    pay_lite = lite_pay
    me = lite_wallets("Ada Wang", EUR="1000")
    with pytest.raises(ValidationError, match=match) as err:
        pay_lite.crossborder.import_pain001(
            customer_of(me["EUR"]), _pain001(me["EUR"].id, txs, count, total, ns)
        )
    assert err.value.field == field
    assert lite_bank.balance(SYSTEM, me["EUR"].id).available == Money.of("1000", "EUR")
    assert pay_lite.crossborder.queue(SYSTEM) == []

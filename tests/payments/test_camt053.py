"""camt.053 end-of-day statements: valid against the official XSD, opening + entries = closing
from the ledger, only for a finished day, only the owner's account; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from lxml import etree
from tests.payments.conftest import WalletFn, customer_of

from finbridge.banking import BankingService
from finbridge.core import Conflict, ManualClock, Money, NotFound, Principal
from finbridge.core.clock import business_date
from finbridge.payments import PaymentsService
from finbridge.payments import iso20022 as iso
from finbridge.payments.iso20022.camt053 import CAMT053

NS = {"c": iso.namespace(CAMT053)}


def _balances(root: etree._Element) -> dict[str, tuple[str, str]]:
    return {
        b.findtext("c:Tp/c:CdOrPrtry/c:Cd", namespaces=NS): (
            b.findtext("c:Amt", namespaces=NS), b.findtext("c:CdtDbtInd", namespaces=NS))
        for b in root.iterfind(".//c:Stmt/c:Bal", NS)
    }  # fmt: skip


def test_a_days_statement_is_xsd_valid_and_adds_up(
    pay: PaymentsService, wallets: WalletFn, bank: BankingService, clock: ManualClock,
    system: Principal,
) -> None:  # fmt: skip
    me, other = wallets("Ada Wang", CNY="500"), wallets("Bo Li", CNY="5")
    day1 = business_date(clock.now(), "Asia/Shanghai")
    clock.advance(timedelta(days=1))
    day2 = business_date(clock.now(), "Asia/Shanghai")
    bank.transfer(system, me["CNY"].id, other["CNY"].id, Money.of("120.50", "CNY"),
                  idempotency_key="t1", description="rent")  # fmt: skip
    bank.deposit(system, me["CNY"].id, Money.of("20", "CNY"), idempotency_key="d1")
    with pytest.raises(Conflict) as early:
        pay.statements.camt053(customer_of(me["CNY"]), me["CNY"].id, day2)
    assert early.value.field == "date"
    clock.advance(timedelta(days=1))
    xml = pay.statements.camt053(customer_of(me["CNY"]), me["CNY"].id, day2)
    root = iso.validate(xml, CAMT053)  # raises unless valid against the official XSD
    assert _balances(root) == {"OPBD": ("500.00", "CRDT"), "CLBD": ("399.50", "CRDT")}
    amounts = [(n.findtext("c:Amt", namespaces=NS), n.findtext("c:CdtDbtInd", namespaces=NS))
               for n in root.iterfind(".//c:Ntry", NS)]  # fmt: skip
    assert amounts == [("120.50", "DBIT"), ("20.00", "CRDT")]
    quiet = iso.validate(pay.statements.camt053(system, me["CNY"].id, day1), CAMT053)
    assert _balances(quiet) == {"OPBD": ("0.00", "CRDT"), "CLBD": ("500.00", "CRDT")}
    with pytest.raises(NotFound) as err:  # another customer's account
        pay.statements.camt053(customer_of(other["CNY"]), me["CNY"].id, day2)
    assert err.value.field == "account_id"
    tampered = xml.replace(b"<Cd>OPBD</Cd>", b"<Cd>OPENING</Cd>")
    assert not iso.schema(CAMT053).validate(etree.fromstring(tampered))

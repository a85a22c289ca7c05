"""camt.053.001.08: an account's end-of-day statement (bank to customer), XSD-valid.

Built with the ``pyiso20022`` binding and validated against the official schema (copied from the
``camt053`` package, see xsd/PROVENANCE.md) before it is handed out. Every posting of the day is
one booked entry with a proprietary bank transaction code (our entry kind), so the statement
reconciles to the ledger: opening balance + entries = closing balance, checked here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from finbridge.core.errors import ValidationError
from finbridge.payments.iso20022 import _serializer, namespace, validate

CAMT053 = "camt.053.001.08"


@dataclass(frozen=True, slots=True)
class StatementEntry:
    reference: str  # the ledger entry id
    amount: Decimal  # signed: positive credits the account
    booked_at: datetime
    code: str  # our entry kind (transfer, journal, ...)
    description: str


def camt053(
    message_id: str,
    created: datetime,
    *,
    account_id: str,
    currency: str,
    day: date,
    period: tuple[datetime, datetime],
    opening: Decimal,
    entries: list[StatementEntry],
    servicer_bic: str,
) -> bytes:
    """The day's statement of one account, or a ValidationError if it does not add up."""
    from pyiso20022.camt.camt_053_001_08 import camt_053_001_08 as c
    from xsdata.models.datatype import XmlDate, XmlDateTime

    closing = opening + sum((e.amount for e in entries), Decimal(0))

    def stamp(moment: datetime) -> Any:
        return XmlDateTime.from_datetime(moment.replace(microsecond=0))

    def amount(value: Decimal) -> Any:
        return c.ActiveOrHistoricCurrencyAndAmount(value=abs(value), ccy=currency)

    def side(value: Decimal) -> Any:
        return c.CreditDebitCode.DBIT if value < 0 else c.CreditDebitCode.CRDT

    def balance(code: str, value: Decimal) -> Any:
        return c.CashBalance8(
            tp=c.BalanceType13(cd_or_prtry=c.BalanceType10Choice(cd=code)),
            amt=amount(value), cdt_dbt_ind=side(value),
            dt=c.DateAndDateTime2Choice(dt=XmlDate.from_date(day)),
        )  # fmt: skip

    def entry(e: StatementEntry) -> Any:
        return c.ReportEntry10(
            ntry_ref=e.reference[:35], amt=amount(e.amount), cdt_dbt_ind=side(e.amount),
            sts=c.EntryStatus1Choice(cd="BOOK"),
            bookg_dt=c.DateAndDateTime2Choice(dt_tm=stamp(e.booked_at)),
            val_dt=c.DateAndDateTime2Choice(dt=XmlDate.from_date(day)),
            acct_svcr_ref=e.reference[:35],
            bk_tx_cd=c.BankTransactionCodeStructure4(
                prtry=c.ProprietaryBankTransactionCodeStructure1(cd=e.code[:35], issr="FINBRIDGE")
            ),
            addtl_ntry_inf=e.description[:500] or None,
        )  # fmt: skip

    if any(e.amount == 0 for e in entries):
        raise ValidationError("a statement entry moves money", field="entries")
    document = c.Document(
        bk_to_cstmr_stmt=c.BankToCustomerStatementV08(
            grp_hdr=c.GroupHeader81(msg_id=message_id, cre_dt_tm=stamp(created)),
            stmt=[
                c.AccountStatement9(
                    id=f"{account_id.replace('-', '')[:24]}-{day:%Y%m%d}",
                    elctrnc_seq_nb=Decimal(day.toordinal()),
                    cre_dt_tm=stamp(created),
                    fr_to_dt=c.DateTimePeriod1(
                        fr_dt_tm=stamp(period[0]), to_dt_tm=stamp(period[1])
                    ),
                    acct=c.CashAccount39(
                        id=c.AccountIdentification4Choice(
                            othr=c.GenericAccountIdentification1(id=account_id.replace("-", ""))
                        ),
                        ccy=currency,
                        svcr=c.BranchAndFinancialInstitutionIdentification6(
                            fin_instn_id=c.FinancialInstitutionIdentification18(bicfi=servicer_bic)
                        ),
                    ),
                    bal=[balance("OPBD", opening), balance("CLBD", closing)],
                    ntry=[entry(e) for e in entries],
                )
            ],
        )
    )
    xml = _serializer().render(document, ns_map={None: namespace(CAMT053)})
    data = xml.encode("utf-8")
    validate(data, CAMT053)
    return data

"""ISO 20022 messages for cross-border transfers: pacs.008 out, pacs.002 and pacs.004 in.

Outgoing pacs.008.001.08 (the CBPR+ version) is built with the ``pyiso20022`` binding (xsdata
dataclasses generated from the ISO schema), serialised by xsdata and validated against the
official XSD (``xsd/``, see its PROVENANCE.md) with lxml before it may leave.

Incoming messages are untrusted. They are refused safely, changing nothing, unless they pass,
in order: a size cap; ``defusedxml`` (any DTD, entity declaration or external reference is
refused, so billion laughs and XXE never expand); a hardened lxml parser (no network, no entity
resolution, no huge trees); a known root namespace; and the XSD of that message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from finbridge.core.errors import ValidationError

XSD_DIR = Path(__file__).parent / "xsd"
PACS008 = "pacs.008.001.08"
PACS002 = "pacs.002.001.12"
PACS004 = "pacs.004.001.11"
INCOMING = (PACS002, PACS004)
MAX_MESSAGE_BYTES = 2 * 1024 * 1024


def namespace(message: str) -> str:
    return f"urn:iso:std:iso:20022:tech:xsd:{message}"


@cache
def schema(message: str) -> Any:
    """The lxml schema of ``message`` (parsed once; the schema files are our own copies)."""
    from lxml import etree

    return etree.XMLSchema(etree.parse(str(XSD_DIR / f"{message}.xsd"), _parser()))


def _parser() -> Any:
    from lxml import etree

    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
        huge_tree=False, remove_comments=True,
    )  # fmt: skip


def validate(xml: bytes, message: str) -> Any:
    """Parse ``xml`` and check it against ``message``'s XSD; the error names the first fault."""
    from lxml import etree

    try:
        root = etree.fromstring(xml, _parser())
    except etree.XMLSyntaxError as exc:
        raise ValidationError(f"not well-formed XML: {exc}", field="message") from None
    xsd = schema(message)
    if not xsd.validate(root):
        first = xsd.error_log[0] if xsd.error_log else None
        detail = f"line {first.line}: {first.message}" if first is not None else "invalid"
        raise ValidationError(f"{message} fails its XSD: {detail}", field="message")
    return root


def parse_incoming(data: bytes | str, expected: tuple[str, ...] = INCOMING) -> tuple[str, Any]:
    """An untrusted message (one of ``expected``) as (message name, validated root), or a
    ValidationError."""
    import defusedxml.ElementTree as safe_et
    from defusedxml import DefusedXmlException

    raw = data.encode() if isinstance(data, str) else data
    if len(raw) > MAX_MESSAGE_BYTES:
        raise ValidationError("message larger than 2 MiB", field="message")
    try:
        probe = safe_et.fromstring(raw, forbid_dtd=True, forbid_entities=True,
                                   forbid_external=True)  # fmt: skip
    except DefusedXmlException:
        raise ValidationError("DTDs and entities are refused", field="message") from None
    except Exception as exc:  # ParseError: malformed
        raise ValidationError(f"not well-formed XML: {exc}", field="message") from None
    tag = str(probe.tag)
    found = next((m for m in expected if tag == f"{{{namespace(m)}}}Document"), None)
    if found is None:
        raise ValidationError(
            f"expected a {' or '.join(expected)} Document, got {tag[:120]}", field="message"
        )
    return found, validate(raw, found)


# ---------------------------------------------------------------------------- outgoing
@cache
def _serializer() -> Any:
    """One serializer and its XmlContext per process: the context caches each binding class's
    metadata, which is most of the cost of the first message (measured: 10x per message)."""
    from xsdata.formats.dataclass.context import XmlContext
    from xsdata.formats.dataclass.serializers import XmlSerializer
    from xsdata.formats.dataclass.serializers.config import SerializerConfig

    return XmlSerializer(context=XmlContext(), config=SerializerConfig(indent="  "))


@dataclass(frozen=True, slots=True)
class Party:
    name: str
    country: str
    address_lines: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CreditTransfer:
    """One outgoing customer credit transfer, as checked by the cross-border desk."""

    end_to_end_id: str
    uetr: str
    amount: Decimal
    currency: str
    debtor: Party
    debtor_account: str  # our account id, sent as a proprietary identifier
    creditor: Party
    creditor_iban: str | None
    creditor_account: str | None
    creditor_bic: str
    purpose: str | None
    remittance: str


def pacs008(
    message_id: str,
    created: datetime,
    settlement_date: date,
    transfers: list[CreditTransfer],
    *,
    debtor_agent_bic: str,
) -> bytes:
    """A pacs.008.001.08 carrying ``transfers`` (one currency), validated against its XSD."""
    from pyiso20022.pacs.pacs_008_001_08 import pacs_008_001_08 as p
    from xsdata.models.datatype import XmlDate, XmlDateTime

    if not transfers:
        raise ValidationError("no transfers to send", field="transfers")
    currencies = {t.currency for t in transfers}
    if len(currencies) != 1:
        raise ValidationError("one message settles one currency", field="transfers")
    total = sum((t.amount for t in transfers), Decimal(0))
    ccy = currencies.pop()

    def agent(bic: str) -> Any:
        return p.BranchAndFinancialInstitutionIdentification6(
            fin_instn_id=p.FinancialInstitutionIdentification18(bicfi=bic)
        )

    def party(x: Party) -> Any:
        return p.PartyIdentification135(
            nm=x.name,
            pstl_adr=p.PostalAddress24(ctry=x.country, adr_line=list(x.address_lines)[:7]),
        )

    def tx(t: CreditTransfer) -> Any:
        creditor_id = (
            p.AccountIdentification4Choice(iban=t.creditor_iban) if t.creditor_iban
            else p.AccountIdentification4Choice(
                othr=p.GenericAccountIdentification1(id=t.creditor_account or ""))
        )  # fmt: skip
        return p.CreditTransferTransaction39(
            pmt_id=p.PaymentIdentification7(
                instr_id=t.end_to_end_id, end_to_end_id=t.end_to_end_id, tx_id=t.end_to_end_id,
                uetr=t.uetr,
            ),
            intr_bk_sttlm_amt=p.ActiveCurrencyAndAmount(value=t.amount, ccy=t.currency),
            intr_bk_sttlm_dt=XmlDate.from_date(settlement_date),
            instd_amt=p.ActiveOrHistoricCurrencyAndAmount(value=t.amount, ccy=t.currency),
            chrg_br=p.ChargeBearerType1Code.SHAR,
            dbtr=party(t.debtor),
            dbtr_acct=p.CashAccount38(
                id=p.AccountIdentification4Choice(
                    othr=p.GenericAccountIdentification1(id=t.debtor_account))),
            dbtr_agt=agent(debtor_agent_bic),
            cdtr_agt=agent(t.creditor_bic),
            cdtr=party(t.creditor),
            cdtr_acct=p.CashAccount38(id=creditor_id),
            purp=None if t.purpose is None else p.Purpose2Choice(cd=t.purpose),
            rmt_inf=p.RemittanceInformation16(ustrd=[t.remittance]) if t.remittance else None,
        )  # fmt: skip

    document = p.Document(
        fito_ficstmr_cdt_trf=p.FitoFicustomerCreditTransferV08(
            grp_hdr=p.GroupHeader93(
                msg_id=message_id,
                cre_dt_tm=XmlDateTime.from_datetime(created.replace(microsecond=0)),
                nb_of_txs=str(len(transfers)),
                ctrl_sum=total,
                ttl_intr_bk_sttlm_amt=p.ActiveCurrencyAndAmount(value=total, ccy=ccy),
                intr_bk_sttlm_dt=XmlDate.from_date(settlement_date),
                sttlm_inf=p.SettlementInstruction7(sttlm_mtd=p.SettlementMethod1Code.INDA),
                instg_agt=agent(debtor_agent_bic),
            ),
            cdt_trf_tx_inf=[tx(t) for t in transfers],
        )
    )
    xml = _serializer().render(document, ns_map={None: namespace(PACS008)})
    data = xml.encode("utf-8")
    validate(data, PACS008)
    return data


# ---------------------------------------------------------------------------- incoming
@dataclass(frozen=True, slots=True)
class StatusLine:
    end_to_end_id: str
    status: str  # ACSC, ACCP, ACSP... accepted; RJCT rejected; PDNG pending
    reason: str | None


@dataclass(frozen=True, slots=True)
class ReturnLine:
    end_to_end_id: str
    amount: Decimal
    currency: str
    reason: str | None


def _text(node: Any, path: str, ns: dict[str, str]) -> str | None:
    found = node.find(path, ns)
    return None if found is None or found.text is None else str(found.text).strip()


def read_pacs002(root: Any) -> list[StatusLine]:
    ns = {"d": namespace(PACS002)}
    out = []
    for tx in root.iterfind("d:FIToFIPmtStsRpt/d:TxInfAndSts", ns):
        e2e = _text(tx, "d:OrgnlEndToEndId", ns)
        status = _text(tx, "d:TxSts", ns)
        if not e2e or not status:
            raise ValidationError("a status line lacks OrgnlEndToEndId or TxSts", field="message")
        out.append(StatusLine(e2e, status, _text(tx, "d:StsRsnInf/d:Rsn/d:Cd", ns)))
    return out


def read_pacs004(root: Any) -> list[ReturnLine]:
    ns = {"d": namespace(PACS004)}
    out = []
    for tx in root.iterfind("d:PmtRtr/d:TxInf", ns):
        e2e = _text(tx, "d:OrgnlEndToEndId", ns)
        amount = tx.find("d:RtrdIntrBkSttlmAmt", ns)
        if not e2e or amount is None or amount.text is None:
            raise ValidationError(
                "a return lacks OrgnlEndToEndId or RtrdIntrBkSttlmAmt", field="message"
            )
        reason = _text(tx, "d:RtrRsnInf/d:Rsn/d:Cd", ns)
        out.append(ReturnLine(e2e, Decimal(amount.text.strip()), str(amount.get("Ccy")), reason))
    return out

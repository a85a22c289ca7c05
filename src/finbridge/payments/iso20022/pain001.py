"""pain.001.001.09 (customer credit transfer initiation): a customer's batch file, read safely.

The file is untrusted: it passes the same gate as the correspondent's messages (size cap,
defusedxml, hardened parser, namespace, then the official XSD, see xsd/PROVENANCE.md) before a
single field is read. The group header's count and control sum must match the transactions.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from finbridge.core.errors import ValidationError
from finbridge.payments.iso20022 import _text, namespace, parse_incoming

PAIN001 = "pain.001.001.09"


@dataclass(frozen=True, slots=True)
class Initiation:
    """One credit transfer a customer asks for."""

    message_id: str
    end_to_end_id: str
    debtor_account: str
    amount: Decimal
    currency: str
    creditor_name: str
    creditor_country: str
    creditor_address: tuple[str, ...]
    creditor_iban: str | None
    creditor_account: str | None
    creditor_bic: str
    purpose: str | None
    remittance: str


def read_pain001(data: bytes | str) -> list[Initiation]:
    """Every transfer of a pain.001 file, or a ValidationError naming what is wrong."""
    _message, root = parse_incoming(data, (PAIN001,))
    ns = {"d": namespace(PAIN001)}
    header = root.find("d:CstmrCdtTrfInitn/d:GrpHdr", ns)
    message_id = _text(header, "d:MsgId", ns) or ""
    out: list[Initiation] = []
    for block in root.iterfind("d:CstmrCdtTrfInitn/d:PmtInf", ns):
        debtor = _text(block, "d:DbtrAcct/d:Id/d:Othr/d:Id", ns)
        if debtor is None:
            raise ValidationError(
                "DbtrAcct must name one of our accounts (Id/Othr/Id)", field="DbtrAcct"
            )
        for tx in block.iterfind("d:CdtTrfTxInf", ns):
            out.append(_initiation(tx, ns, message_id, debtor))
    _check_totals(header, ns, out)
    return out


def _initiation(tx: Any, ns: dict[str, str], message_id: str, debtor: str) -> Initiation:
    e2e = _text(tx, "d:PmtId/d:EndToEndId", ns) or ""
    amount = tx.find("d:Amt/d:InstdAmt", ns)
    if amount is None or amount.text is None:
        raise ValidationError(f"{e2e}: only InstdAmt amounts are accepted", field="Amt")
    bic = _text(tx, "d:CdtrAgt/d:FinInstnId/d:BICFI", ns)
    if bic is None:
        raise ValidationError(f"{e2e}: the creditor agent's BICFI is required", field="CdtrAgt")
    country = _text(tx, "d:Cdtr/d:PstlAdr/d:Ctry", ns)
    if country is None:
        raise ValidationError(f"{e2e}: the creditor's country is required", field="Cdtr")
    return Initiation(
        message_id=message_id, end_to_end_id=e2e, debtor_account=debtor,
        amount=Decimal(amount.text.strip()), currency=str(amount.get("Ccy")),
        creditor_name=_text(tx, "d:Cdtr/d:Nm", ns) or "", creditor_country=country,
        creditor_address=tuple(
            (x.text or "").strip() for x in tx.iterfind("d:Cdtr/d:PstlAdr/d:AdrLine", ns)
        ),
        creditor_iban=_text(tx, "d:CdtrAcct/d:Id/d:IBAN", ns),
        creditor_account=_text(tx, "d:CdtrAcct/d:Id/d:Othr/d:Id", ns),
        creditor_bic=bic, purpose=_text(tx, "d:Purp/d:Cd", ns),
        remittance=" ".join(
            (x.text or "").strip() for x in tx.iterfind("d:RmtInf/d:Ustrd", ns)
        )[:140],
    )  # fmt: skip


def _check_totals(header: Any, ns: dict[str, str], lines: list[Initiation]) -> None:
    count = _text(header, "d:NbOfTxs", ns)
    if count != str(len(lines)):
        raise ValidationError(
            f"GrpHdr/NbOfTxs says {count}, the file holds {len(lines)} transfers",
            field="NbOfTxs",
        )
    stated = _text(header, "d:CtrlSum", ns)
    if stated is not None:
        try:
            ok = Decimal(stated) == sum((x.amount for x in lines), Decimal(0))
        except InvalidOperation:
            ok = False
        if not ok:
            raise ValidationError(
                f"GrpHdr/CtrlSum {stated} is not the sum of the amounts", field="CtrlSum"
            )

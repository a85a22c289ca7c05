"""A simulated correspondent bank: what it answers to our pacs.008, and when.

For each transfer of an incoming pacs.008 it decides, from a seeded random generator, to reject
it (pacs.002 RJCT, reason AC01 "incorrect account number"), or to accept it (pacs.002 ACSC) and
sometimes return it days later (pacs.004, reason AC04 "closed account"). It answers with real
messages, valid against their XSDs, each with the delay after which it would arrive; the caller
delivers them in that order. ``finbridge.correspondent`` serves it as a second process over
HTTPS (mutual TLS), delivering each answer when its delay has passed on a scaled clock.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta
from xml.sax.saxutils import escape

from finbridge.payments import iso20022 as iso


@dataclass(frozen=True, slots=True)
class Answer:
    delay: timedelta
    message: str  # iso20022.PACS002 | iso20022.PACS004
    xml: bytes


class SimulatedCorrespondent:
    def __init__(
        self, *, seed: int = 0, reject_rate: float = 0.1, return_rate: float = 0.1
    ) -> None:
        self.rng = random.Random(seed)
        self.reject_rate, self.return_rate = reject_rate, return_rate
        self.seen: set[str] = set()  # end-to-end ids answered: a transfer sent again is not

    def process(self, pacs008: bytes) -> list[Answer]:
        """Answers to one of our pacs.008 messages, soonest first."""
        # A correspondent checks what it receives: no DTD or entity, valid against the XSD.
        _, root = iso.parse_incoming(pacs008, (iso.PACS008,))
        ns = {"d": iso.namespace(iso.PACS008)}
        answers: list[Answer] = []
        statuses: list[tuple[str, str, str | None]] = []
        for n, tx in enumerate(root.iterfind("d:FIToFICstmrCdtTrf/d:CdtTrfTxInf", ns)):
            e2e = tx.findtext("d:PmtId/d:EndToEndId", namespaces=ns)
            amount = tx.find("d:IntrBkSttlmAmt", ns)
            assert e2e is not None and amount is not None  # the XSD requires both
            if e2e in self.seen:  # a re-sent transfer: answered once already
                continue
            self.seen.add(e2e)
            if self.rng.random() < self.reject_rate:
                statuses.append((e2e, "RJCT", "AC01"))
                continue
            statuses.append((e2e, "ACSC", None))
            if self.rng.random() < self.return_rate:
                days = self.rng.randint(1, 5)
                xml = _pacs004(f"RTR{n}", e2e, str(amount.text), str(amount.get("Ccy")))
                answers.append(Answer(timedelta(days=days), iso.PACS004, xml))
        if statuses:
            answers.append(Answer(timedelta(minutes=self.rng.randint(1, 30)), iso.PACS002,
                                  _pacs002(statuses)))  # fmt: skip
        return sorted(answers, key=lambda a: a.delay)


def _pacs002(lines: list[tuple[str, str, str | None]]) -> bytes:
    body = "".join(
        f"<TxInfAndSts><OrgnlEndToEndId>{escape(e2e)}</OrgnlEndToEndId><TxSts>{sts}</TxSts>"
        + (f"<StsRsnInf><Rsn><Cd>{rsn}</Cd></Rsn></StsRsnInf>" if rsn else "")
        + "</TxInfAndSts>"
        for e2e, sts, rsn in lines
    )
    xml = (
        f'<Document xmlns="{iso.namespace(iso.PACS002)}"><FIToFIPmtStsRpt>'
        "<GrpHdr><MsgId>SIMSTS</MsgId><CreDtTm>2026-01-01T00:00:00</CreDtTm></GrpHdr>"
        f"{body}</FIToFIPmtStsRpt></Document>"
    ).encode()
    iso.validate(xml, iso.PACS002)
    return xml


def _pacs004(message_id: str, e2e: str, amount: str, ccy: str) -> bytes:
    xml = (
        f'<Document xmlns="{iso.namespace(iso.PACS004)}"><PmtRtr>'
        f"<GrpHdr><MsgId>{message_id}</MsgId><CreDtTm>2026-01-01T00:00:00</CreDtTm>"
        "<NbOfTxs>1</NbOfTxs></GrpHdr>"
        f"<TxInf><OrgnlEndToEndId>{escape(e2e)}</OrgnlEndToEndId>"
        f'<RtrdIntrBkSttlmAmt Ccy="{escape(ccy)}">{escape(amount)}</RtrdIntrBkSttlmAmt>'
        "<RtrRsnInf><Rsn><Cd>AC04</Cd></Rsn></RtrRsnInf></TxInf></PmtRtr></Document>"
    ).encode()
    iso.validate(xml, iso.PACS004)
    return xml

"""Cross-border transfers: beneficiary checks, screening, funds held in flight, pacs.008 out,
pacs.002 / pacs.004 in.

Life of a transfer: the beneficiary is validated (IBAN with its national check digits, and a BIC
that names a bank where schwifty's registry lists the country's banks; names and
addresses in the SWIFT "x" character set that CBPR+ messages must fit); the amount is *held* on
the customer's account (a banking hold, which the posting guard decides like any debit); the
name is screened (a hit keeps the transfer in ``screening`` for an analyst, never sent); a
``ready`` transfer goes out in a pacs.008 validated against its XSD (``sent``). The
correspondent's pacs.002 then settles it (the hold is captured to the bank's clearing account
in that currency) or rejects it (the hold is released, the reason code kept); a later pacs.004
return credits the customer back exactly the returned amount from the clearing account. Each
step is a guarded status change, so replaying a message changes nothing twice.

A screening hit opens a case in the risk engine's queue (the :class:`CaseQueue` port the
platform fills); the analyst's verdict there comes back to :meth:`CrossBorderDesk.case_closed`:
``release`` sends the transfer on, ``confirm`` blocks it and gives the funds back.

Sending in another currency: a quote (``quote_id``) from the FX desk converts from the account
in the quote's sell currency into the customer's wallet in the sent currency (one guarded
journal entry: risk and step-up see the customer's conversion), and the sent amount is then held
there like any transfer. A rejection or a return gives the sent currency back to that wallet:
the conversion is not undone at a new rate behind the customer's back.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
import warnings
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError

from finbridge.banking import BankingService, InternalAccount, JournalLeg
from finbridge.core.clock import Clock, business_date
from finbridge.core.errors import (
    BusinessRuleViolation,
    Conflict,
    CurrencyMismatch,
    IdempotencyConflict,
    NotFound,
    ValidationError,
)
from finbridge.core.ids import new_id
from finbridge.core.money import Money
from finbridge.core.principal import Principal
from finbridge.payments import iso20022 as iso
from finbridge.payments._common import (
    PLATFORM,
    aware,
    is_customer,
    load_row,
    not_a_credit_line,
    operator_only,
    positive_money,
)
from finbridge.payments.fx import FxDesk
from finbridge.payments.screening import Hit, ScreeningList
from finbridge.payments.tables import CrossBorderRow
from finbridge.store.engine import unit_of_work

# The SWIFT "x" character set (letters, digits and / - ? : ( ) . , ' + and space): what every
# CBPR+ party name and address line must be written in.
_X_CHARS = re.compile(r"[A-Za-z0-9/\-?:().,'+ ]*")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_PURPOSE = re.compile(r"^[A-Z]{4}$")
_ACCEPTED = {"ACSC", "ACCP", "ACSP", "ACWC", "ACCC"}
CLEARING = InternalAccount.CLEARING
SCREENING_ORIGIN = "payments.screening"


class CaseQueue(Protocol):
    """Port: the risk engine's case queue, where a screening hit waits for an analyst."""

    def open_case(self, *, subject_id: str, customer_id: str, summary: str) -> str | None:
        """Open (or find) the case for ``subject_id``; its id, or None with no queue."""
        ...

    def close_case(self, actor: Principal, case_id: str, *, release: bool, note: str) -> None:
        """Close the case with this verdict (the queue then calls back ``case_closed``)."""
        ...


class NoCaseQueue:
    """No risk engine wired: hits wait for a payments operator's decision alone."""

    def open_case(self, *, subject_id: str, customer_id: str, summary: str) -> str | None:
        return None

    def close_case(self, actor: Principal, case_id: str, *, release: bool, note: str) -> None:
        return None


@dataclass(frozen=True, slots=True)
class Beneficiary:
    name: str
    country: str
    bic: str
    iban: str | None = None
    account: str | None = None  # when the country has no IBAN
    address_lines: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CrossBorder:
    id: str
    customer_id: str
    account_id: str
    amount: Money
    beneficiary: dict[str, Any]
    purpose: str | None
    status: str
    end_to_end_id: str
    reason: str | None
    screening_hit: dict[str, Any] | None
    message_id: str | None
    created_at: datetime
    updated_at: datetime
    replayed: bool = False
    quote_id: str | None = None
    case_id: str | None = None


@dataclass
class Report:
    """What an incoming message changed."""

    message: str
    settled: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    returned: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)  # replays, pending, unknown ids


def in_charset(value: str, field: str, limit: int) -> str:
    value = value.strip() if isinstance(value, str) else value
    if not isinstance(value, str) or not value or len(value) > limit:
        raise ValidationError(f"required, at most {limit} characters", field=field)
    if not _X_CHARS.fullmatch(value):
        bad = next(ch for ch in value if not _X_CHARS.fullmatch(ch))
        raise ValidationError(
            f"character {bad!r} is outside the SWIFT x character set of CBPR+ messages",
            field=field,
        )
    return value


def check_beneficiary(b: Beneficiary) -> dict[str, Any]:
    """The beneficiary as stored and sent, or the first fault naming its field."""
    from schwifty import BIC, IBAN
    from schwifty.exceptions import NationalChecksumNotVerified, SchwiftyException

    name = in_charset(b.name, "beneficiary.name", 140)
    lines = tuple(
        in_charset(line, f"beneficiary.address_lines[{i}]", 70)
        for i, line in enumerate(b.address_lines)
    )
    if len(lines) > 3:
        raise ValidationError("at most 3 address lines", field="beneficiary.address_lines")
    country = b.country.strip().upper() if isinstance(b.country, str) else ""
    if not _COUNTRY.match(country):
        raise ValidationError("ISO 3166 two-letter country code", field="beneficiary.country")
    try:
        bic = BIC(b.bic)
    except (SchwiftyException, TypeError, ValueError) as exc:
        raise ValidationError(f"invalid BIC: {exc}", field="beneficiary.bic") from None
    iban: str | None = None
    if (b.iban is None) == (b.account is None):
        raise ValidationError("give an IBAN or an account number", field="beneficiary.iban")
    if b.iban is not None:
        try:
            with warnings.catch_warnings():
                # No algorithm for the country: its national digits cannot be checked, no fault.
                warnings.simplefilter("ignore", NationalChecksumNotVerified)
                parsed = IBAN(b.iban, validate_bban=True)
        except (SchwiftyException, TypeError, ValueError) as exc:
            raise ValidationError(f"invalid IBAN: {exc}", field="beneficiary.iban") from None
        iban = parsed.compact
        if parsed.country_code != country:
            raise ValidationError(
                f"the IBAN is from {parsed.country_code}, not {country}", field="beneficiary.iban"
            )
    else:
        in_charset(str(b.account), "beneficiary.account", 34)
    if bic.country_code != country:
        raise ValidationError(
            f"the BIC is from {bic.country_code}, not {country}", field="beneficiary.bic"
        )
    _registered(bic)
    return {
        "name": name, "country": country, "bic": str(bic.compact).ljust(11, "X"),
        "iban": iban, "account": None if b.account is None else b.account.strip(),
        "address_lines": list(lines),
    }  # fmt: skip


def _registered(bic: Any) -> None:
    """The BIC names a bank, where schwifty's registry lists the country's banks (47 countries
    in schwifty 2026.10; elsewhere its structure is all that can be checked): the exact code or
    its institution's head office ``XXX``, since registries list few branches."""
    from schwifty import registry

    if registry.get_banks_by_country(bic.country_code):
        codes = (str(bic), str(bic)[:8] + "XXX")
        if not any(registry.get_banks_by_bic(code) for code in codes):
            raise ValidationError(
                f"the BIC {bic} is not a bank in {bic.country_code}'s registry",
                field="beneficiary.bic",
            )


class CrossBorderDesk:
    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        banking: BankingService,
        screening: ScreeningList,
        *,
        bank_bic: str,
        business_timezone: str = "Asia/Shanghai",
        fx: FxDesk | None = None,
        cases: CaseQueue | None = None,
    ) -> None:
        self.engine, self.clock, self.banking = engine, clock, banking
        self.screening, self.bank_bic, self.tz = screening, bank_bic, business_timezone
        self.fx = fx
        self.cases: CaseQueue = cases or NoCaseQueue()

    # ------------------------------------------------------------------ send
    def send(
        self,
        actor: Principal,
        *,
        from_account_id: str,
        amount: Money,
        beneficiary: Beneficiary,
        idempotency_key: str,
        purpose: str | None = None,
        remittance: str = "",
        quote_id: str | None = None,
    ) -> CrossBorder:
        """Validate, hold the funds, screen; the transfer waits for the next pacs.008 export.

        With ``quote_id`` the money comes from ``from_account_id`` in the quote's sell currency
        and ``amount`` (in the sent currency) must be what the quote buys."""
        amount = positive_money(amount)
        if not isinstance(idempotency_key, str) or not 0 < len(idempotency_key) <= 200:
            raise ValidationError("an idempotency key of 1-200 characters", field="idempotency_key")
        scoped = f"{actor.kind.value}:{actor.id}:{idempotency_key}"
        ben = check_beneficiary(beneficiary)
        if purpose is not None and not _PURPOSE.match(purpose):
            raise ValidationError("ISO 20022 purpose code of 4 capitals", field="purpose")
        remittance = in_charset(remittance, "remittance", 140) if remittance else ""
        fp = hashlib.sha256(
            json.dumps([from_account_id, str(amount.amount), amount.code, ben, purpose,
                        remittance, quote_id], sort_keys=True).encode()
        ).hexdigest()  # fmt: skip
        stored = self._stored(scoped, fp)
        if stored is not None:
            return stored
        if quote_id is not None:
            return self._send_converted(
                actor, scoped, fp, quote_id, from_account_id, amount, ben, purpose, remittance
            )
        try:
            account = self.banking.get_account(actor if is_customer(actor) else PLATFORM,
                                               from_account_id)  # fmt: skip
        except NotFound:
            raise NotFound(
                f"account {from_account_id} not found", field="from_account_id"
            ) from None
        if not is_customer(actor):
            actor.require_scope("payments:write")
        if account.customer_id is None:
            raise NotFound(f"account {from_account_id} not found", field="from_account_id")
        if account.currency != amount.code:
            raise CurrencyMismatch(
                f"account {from_account_id} holds {account.currency}, not {amount.code}",
                field="currency",
            )
        not_a_credit_line(account.floor, "from_account_id")
        hit = self.screening.screen(ben["name"])
        transfer_id = new_id()
        hold = self.banking.place_hold(
            actor, account.id, amount, idempotency_key=f"xb:{transfer_id}",
            description=f"cross-border to {ben['name'][:60]}",
        )  # fmt: skip
        return self._record(
            transfer_id, scoped, fp, account.customer_id, account.id, hold.id, amount, ben,
            purpose, remittance, hit, None,
        )  # fmt: skip

    def _send_converted(
        self,
        actor: Principal,
        scoped: str,
        fp: str,
        quote_id: str,
        from_account_id: str,
        amount: Money,
        ben: dict[str, Any],
        purpose: str | None,
        remittance: str,
    ) -> CrossBorder:
        """Convert through the quote into the customer's wallet in the sent currency, then hold
        the sent amount there (as the platform: the conversion was the customer's guarded
        posting, so risk and step-up are not asked twice for one sending)."""
        if self.fx is None:
            raise ValidationError("no FX desk to convert with", field="quote_id")
        if not is_customer(actor):
            actor.require_scope("payments:write")
        quote = self.fx.get_quote(actor, quote_id)  # authorises; NotFound names quote_id
        if quote.buy.code != amount.code:
            raise CurrencyMismatch(
                f"the quote buys {quote.buy.code}, not {amount.code}", field="currency"
            )
        if quote.buy != amount:
            raise ValidationError(f"the quote buys {quote.buy}, not {amount}", field="amount")
        wallet = self._wallet(quote.customer_id, quote.buy.code)
        hit = self.screening.screen(ben["name"])  # before any money moves
        conversion = self.fx.execute(
            actor, quote_id, from_account_id=from_account_id, to_account_id=wallet
        )
        transfer_id = new_id()
        hold = self.banking.place_hold(
            PLATFORM, wallet, amount, idempotency_key=f"xb:{transfer_id}",
            description=f"cross-border to {ben['name'][:60]} (quote {quote_id})",
        )  # fmt: skip
        return self._record(
            transfer_id, scoped, fp, quote.customer_id, wallet, hold.id, amount, ben, purpose,
            remittance, hit, conversion.quote.id,
        )  # fmt: skip

    def _wallet(self, customer_id: str, code: str) -> str:
        """The customer's open current account in ``code`` that a conversion lands in (not a
        credit line: those have a floor below zero)."""
        page = self.banking.list_accounts(PLATFORM, customer_id=customer_id, limit=200)
        for account in reversed(page.items):  # the oldest first
            if (account.currency, account.kind, account.status) == (code, "current", "open") and (
                account.floor.minor >= 0
            ):
                return account.id
        raise BusinessRuleViolation(
            f"open a {code} account first: the conversion lands there before it is sent",
            field="quote_id",
        )

    def _record(
        self,
        transfer_id: str,
        scoped: str,
        fp: str,
        customer_id: str,
        account_id: str,
        hold_id: str,
        amount: Money,
        ben: dict[str, Any],
        purpose: str | None,
        remittance: str,
        hit: Hit | None,
        quote_id: str | None,
    ) -> CrossBorder:
        now = self.clock.now()
        row = CrossBorderRow(
            id=transfer_id, idempotency_key=scoped, fingerprint=fp,
            customer_id=customer_id, account_id=account_id, hold_id=hold_id,
            amount_minor=amount.minor, currency=amount.code,
            end_to_end_id=f"FB{transfer_id.replace('-', '')[:30]}", uetr=str(uuid.uuid4()),
            beneficiary=ben, purpose=purpose, remittance=remittance,
            status="screening" if hit else "ready",
            screening_hit=None if hit is None else {
                "listed_name": hit.listed_name, "list": hit.list_name,
                "reference": hit.reference, "score": round(hit.score, 1)},
            reason=None if hit is None else "sanctions screening hit",
            message_id=None, message_xml=None, entry_id=None, quote_id=quote_id, case_id=None,
            created_at=now, updated_at=now,
        )  # fmt: skip
        try:
            with unit_of_work(self.engine) as s:
                s.add(row)
        except IntegrityError:
            self.banking.release_hold(PLATFORM, hold_id, reason="duplicate request")
            raced = self._stored(scoped, fp)
            if raced is None:  # pragma: no cover - the key exists by construction
                raise Conflict(
                    "retry with the same idempotency key", field="idempotency_key"
                ) from None
            return raced
        if hit is not None:
            self._open_case(row, hit)
        return _public(self._row(transfer_id))

    def _open_case(self, row: CrossBorderRow, hit: Hit) -> None:
        """The hit goes to the analysts' queue; the transfer stays held until the verdict."""
        summary = (
            f"Sanctions screening: beneficiary {row.beneficiary['name']!r} matches "
            f"{hit.listed_name!r} on {hit.list_name} ({hit.reference}), score "
            f"{hit.score:.1f}; cross-border transfer of "
            f"{Money.from_minor(row.amount_minor, row.currency)} held"
        )
        case_id = self.cases.open_case(
            subject_id=row.id, customer_id=row.customer_id, summary=summary
        )
        if case_id is not None:
            with unit_of_work(self.engine) as s:
                s.execute(
                    update(CrossBorderRow)
                    .where(CrossBorderRow.id == row.id)
                    .values(case_id=case_id)
                )

    def _stored(self, scoped: str, fp: str) -> CrossBorder | None:
        with unit_of_work(self.engine, write=False) as s:
            row = s.scalar(select(CrossBorderRow).where(CrossBorderRow.idempotency_key == scoped))
        if row is None:
            return None
        if row.fingerprint != fp:
            raise IdempotencyConflict(
                "this idempotency key was used for a different request", field="idempotency_key"
            )
        return _public(row, replayed=True)

    # ------------------------------------------------------------------ reads
    def _row(self, transfer_id: str) -> CrossBorderRow:
        return load_row(self.engine, CrossBorderRow, transfer_id, "transfer", "transfer_id")

    def get(self, actor: Principal, transfer_id: str) -> CrossBorder:
        row = self._row(transfer_id)
        if is_customer(actor):
            if not actor.can_act_for(row.customer_id):
                raise NotFound(f"transfer {transfer_id} not found", field="transfer_id")
        else:
            actor.require_scope("payments:read")
        return _public(row)

    def message(self, actor: Principal, transfer_id: str) -> str | None:
        """The pacs.008 a transfer left in (operators only)."""
        operator_only(actor, "payments:read")
        return self._row(transfer_id).message_xml

    def queue(
        self, actor: Principal, *, status: str | None = None, limit: int = 100
    ) -> list[CrossBorder]:
        stmt = select(CrossBorderRow).order_by(CrossBorderRow.id.desc()).limit(limit)
        if is_customer(actor):
            stmt = stmt.where(CrossBorderRow.customer_id == actor.customer_id)
        else:
            actor.require_scope("payments:read")
        if status:
            stmt = stmt.where(CrossBorderRow.status == status)
        with unit_of_work(self.engine, write=False) as s:
            return [_public(r) for r in s.scalars(stmt)]

    # ------------------------------------------------------------------ screening decisions
    def decide_screening(
        self, actor: Principal, transfer_id: str, *, release: bool, note: str = ""
    ) -> CrossBorder:
        """An analyst's decision on a hit: a false positive goes on (``ready``); a true match is
        blocked and the held funds are given back. With a risk case, the decision closes the
        case (one verdict in both places)."""
        operator_only(actor, "payments:admin")
        row = self._row(transfer_id)
        if row.status != "screening":
            raise Conflict(
                f"transfer {transfer_id} is not waiting for screening", field="transfer_id"
            )
        if row.case_id is not None:
            self.cases.close_case(actor, row.case_id, release=release, note=note)
        if not self._apply_screening(row, release, note) and row.case_id is None:
            raise Conflict(
                f"transfer {transfer_id} is not waiting for screening", field="transfer_id"
            )
        return self.get(actor, transfer_id)

    def case_closed(self, transfer_id: str, *, release: bool, note: str = "") -> bool:
        """Risk's verdict on the transfer's case (the platform's resolver calls this). Safe to
        run twice: only a transfer still in screening changes."""
        try:
            row = self._row(transfer_id)
        except NotFound:
            return False
        return self._apply_screening(row, release, note)

    def _apply_screening(self, row: CrossBorderRow, release: bool, note: str) -> bool:
        status = "ready" if release else "blocked"
        reason = note.strip()[:140] or ("screening released" if release else "sanctions match")
        if not self._move(row.id, "screening", status, reason=reason):
            return False
        if not release:
            self.banking.release_hold(PLATFORM, row.hold_id, reason="sanctions screening")
        return True

    def _move(self, transfer_id: str, old: str, new: str, **values: Any) -> bool:
        with unit_of_work(self.engine) as s:
            changed = s.execute(
                update(CrossBorderRow)
                .where(CrossBorderRow.id == transfer_id, CrossBorderRow.status == old)
                .values(status=new, updated_at=self.clock.now(), **values)
            ).rowcount  # type: ignore[attr-defined]
        return bool(changed == 1)

    # ------------------------------------------------------------------ pacs.008 out
    def export_pacs008(self, actor: Principal, *, limit: int = 10_000) -> list[tuple[str, bytes]]:
        """Every ``ready`` transfer in pacs.008 messages, one per currency, each validated
        against the XSD before the transfers are marked ``sent``."""
        operator_only(actor, "payments:write")
        with unit_of_work(self.engine, write=False) as s:
            rows = list(s.scalars(
                select(CrossBorderRow).where(CrossBorderRow.status == "ready")
                .order_by(CrossBorderRow.id).limit(limit)
            ))  # fmt: skip
        by_currency: dict[str, list[CrossBorderRow]] = {}
        for r in rows:
            by_currency.setdefault(r.currency, []).append(r)
        out = []
        now = self.clock.now()
        for _code, group in sorted(by_currency.items()):
            message_id = f"FBM{new_id().replace('-', '')[:28]}"
            xml = iso.pacs008(message_id, now, business_date(now, self.tz),
                              [self._transfer(r) for r in group],
                              debtor_agent_bic=self.bank_bic)  # fmt: skip
            text = xml.decode("utf-8")
            for r in group:
                self._move(r.id, "ready", "sent", message_id=message_id, message_xml=text)
            out.append((message_id, xml))
        return out

    def requeue(self, actor: Principal, message_id: str) -> int:
        """Put the transfers of a pacs.008 that could not be delivered back to ``ready`` (the
        next export sends them again in a new message; their end-to-end ids stay, so a
        correspondent that did get the first message knows them). Returns how many moved."""
        operator_only(actor, "payments:write")
        with unit_of_work(self.engine) as s:
            moved = s.execute(
                update(CrossBorderRow)
                .where(CrossBorderRow.message_id == message_id, CrossBorderRow.status == "sent")
                .values(status="ready", message_id=None, message_xml=None,
                        updated_at=self.clock.now())
            ).rowcount  # type: ignore[attr-defined]  # fmt: skip
        return int(moved)

    def _transfer(self, r: CrossBorderRow) -> iso.CreditTransfer:
        ben = r.beneficiary
        customer = self.banking.get_customer(PLATFORM, r.customer_id)
        debtor_name = _x_only(customer.display_name) or "Customer"
        return iso.CreditTransfer(
            end_to_end_id=r.end_to_end_id, uetr=r.uetr,
            amount=Money.from_minor(r.amount_minor, r.currency).amount, currency=r.currency,
            debtor=iso.Party(debtor_name, "CN"), debtor_account=r.account_id.replace("-", ""),
            creditor=iso.Party(ben["name"], ben["country"], tuple(ben["address_lines"])),
            creditor_iban=ben["iban"], creditor_account=ben["account"], creditor_bic=ben["bic"],
            purpose=r.purpose, remittance=r.remittance,
        )  # fmt: skip

    # ------------------------------------------------------------------ pain.001 in
    def import_pain001(self, actor: Principal, data: bytes | str) -> list[CrossBorder]:
        """A customer's pain.001 batch: the whole file is checked (XSD, totals, every
        beneficiary and amount) before any money is held; then each transfer is sent under the
        key ``pain001:<MsgId>:<EndToEndId>``, so importing the same file again sends nothing
        twice and continues after a transfer the ledger refused (funds)."""
        from finbridge.payments.iso20022.pain001 import read_pain001

        if not is_customer(actor):
            actor.require_scope("payments:write")
        lines = read_pain001(data)
        checked = []
        for i, x in enumerate(lines):
            where = f"CdtTrfTxInf[{i}]"
            ben = Beneficiary(
                name=x.creditor_name, country=x.creditor_country, bic=x.creditor_bic,
                iban=x.creditor_iban, account=x.creditor_account,
                address_lines=x.creditor_address,
            )  # fmt: skip
            try:
                amount = positive_money(Money.of(x.amount, x.currency))
                check_beneficiary(ben)
                if x.purpose is not None and not _PURPOSE.match(x.purpose):
                    raise ValidationError("ISO 20022 purpose code of 4 capitals", field="purpose")
                if x.remittance:
                    in_charset(x.remittance, "remittance", 140)
            except ValidationError as exc:
                raise ValidationError(
                    f"{where} ({x.end_to_end_id}): {exc.detail}", field=f"{where}.{exc.field}"
                ) from None
            checked.append((x, ben, amount))
        sent = []
        for x, ben, amount in checked:
            sent.append(self.send(
                actor, from_account_id=_dashed(x.debtor_account), amount=amount, beneficiary=ben,
                idempotency_key=f"pain001:{x.message_id}:{x.end_to_end_id}"[:200],
                purpose=x.purpose, remittance=x.remittance,
            ))  # fmt: skip
        return sent

    # ------------------------------------------------------------------ pacs.002 / pacs.004 in
    def receive(self, actor: Principal, data: bytes | str) -> Report:
        """Apply a correspondent's pacs.002 status report or pacs.004 return. A message that is
        malformed, hostile or not valid against its XSD is refused before anything changes."""
        operator_only(actor, "payments:write")
        message, root = iso.parse_incoming(data)
        report = Report(message)
        if message == iso.PACS002:
            for line in iso.read_pacs002(root):
                self._status(line, report)
        else:
            for ret in iso.read_pacs004(root):
                self._return(ret, report)
        return report

    def _by_e2e(self, e2e: str) -> CrossBorderRow | None:
        with unit_of_work(self.engine, write=False) as s:
            return s.scalar(select(CrossBorderRow).where(CrossBorderRow.end_to_end_id == e2e))

    def _status(self, line: iso.StatusLine, report: Report) -> None:
        row = self._by_e2e(line.end_to_end_id)
        if row is None or row.status != "sent":
            report.unchanged.append(line.end_to_end_id)
            return
        if line.status in _ACCEPTED:
            clearing = self.banking.internal_account_id(CLEARING, row.currency)
            posted = self.banking.capture_hold(
                PLATFORM, row.hold_id, to_account_id=clearing,
                idempotency_key=f"xb-settle:{row.id}", description="cross-border settled",
            )  # fmt: skip
            if self._move(row.id, "sent", "settled", entry_id=posted.entry_id, reason=None):
                report.settled.append(row.end_to_end_id)
        elif line.status == "RJCT":
            self.banking.release_hold(PLATFORM, row.hold_id, reason=f"rejected {line.reason or ''}")
            if self._move(row.id, "sent", "rejected", reason=f"RJCT {line.reason or ''}".strip()):
                report.rejected.append(row.end_to_end_id)
        else:
            report.unchanged.append(row.end_to_end_id)

    def _return(self, ret: iso.ReturnLine, report: Report) -> None:
        row = self._by_e2e(ret.end_to_end_id)
        if row is None or row.status != "settled":
            report.unchanged.append(ret.end_to_end_id)
            return
        try:
            amount = Money.of(ret.amount, ret.currency, field="message")
        except ValidationError:
            report.unchanged.append(row.end_to_end_id)
            return
        original = Money.from_minor(row.amount_minor, row.currency)
        if amount.code != original.code or amount > original:
            raise ValidationError(
                f"return of {amount} for a transfer of {original}", field="message"
            )
        journal = self.banking.post_journal(
            PLATFORM,
            [JournalLeg.bank(CLEARING, amount, debit=True),
             JournalLeg.give(row.account_id, amount, field="message")],
            idempotency_key=f"xb-return:{row.id}", description=f"returned {ret.reason or ''}",
            channel="crossborder", metadata={"transfer_id": row.id},
        )  # fmt: skip
        if self._move(row.id, "settled", "returned", entry_id=journal.entry_id,
                      reason=f"returned {ret.reason or ''}".strip()):  # fmt: skip
            report.returned.append(row.end_to_end_id)


def _dashed(account: str) -> str:
    """An account id as ISO 20022 carries it (32 hex digits: Othr/Id allows 34 characters,
    our ids with their dashes are 36) back in our form; pacs.008 sends it the same way."""
    if re.fullmatch(r"[0-9a-fA-F]{32}", account):
        a = account.lower()
        return f"{a[:8]}-{a[8:12]}-{a[12:16]}-{a[16:20]}-{a[20:]}"
    return account


def _x_only(text: str) -> str:
    """A debtor name reduced to the x character set (our customers' names may be Chinese)."""
    kept = "".join(ch for ch in text if _X_CHARS.fullmatch(ch)).strip()
    return kept[:140]


def _public(row: CrossBorderRow, *, replayed: bool = False) -> CrossBorder:
    return CrossBorder(
        row.id, row.customer_id, row.account_id, Money.from_minor(row.amount_minor, row.currency),
        dict(row.beneficiary), row.purpose, row.status, row.end_to_end_id, row.reason,
        None if row.screening_hit is None else dict(row.screening_hit), row.message_id,
        aware(row.created_at), aware(row.updated_at), replayed, row.quote_id, row.case_id,
    )  # fmt: skip

"""A merchant's daily settlement file, reconciled to the ledger.

For one business day (the business time zone): every completed payment to the merchant (gross,
fee, net) and every refund (gross, fee returned, net taken back), as CSV, with totals. The file
reconciles when each line's ledger entry moved exactly its net amount on the merchant's
settlement account, read back from banking's account history (the ledger is the truth; this
file is a view of it). Money already sits on the settlement account (the payment posts to it),
so the file reports; it moves nothing.

The close of business runs :meth:`SettlementDesk.run_day` as a step (the platform lists it in
the bank's day): every merchant's file for that day is written under the settlements folder,
the same bytes whenever the day is run again, and the run reports the files that do not
reconcile instead of stopping the bank's day for them.
"""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select

from finbridge.banking import BankingService
from finbridge.core.money import Money
from finbridge.core.principal import Principal
from finbridge.payments._common import PLATFORM, aware, is_customer, operator_only
from finbridge.payments.merchants import MerchantDesk
from finbridge.payments.tables import PaymentRow, RefundRow
from finbridge.store.engine import unit_of_work

log = logging.getLogger("finbridge.payments")
COLUMNS = ("type", "id", "payment_id", "entry_id", "created_at", "gross", "fee", "net", "currency")


@dataclass(frozen=True, slots=True)
class SettlementLine:
    kind: str  # payment | refund
    id: str
    payment_id: str
    entry_id: str
    created_at: datetime
    gross: Money
    fee: Money
    net: Money  # signed, as it moved the settlement account


@dataclass(frozen=True, slots=True)
class SettlementFile:
    merchant_id: str
    day: date
    lines: tuple[SettlementLine, ...]
    net_total: Money
    ledger_total: Money  # what those entries moved on the settlement account
    mismatches: tuple[str, ...]  # entry ids whose ledger movement differs

    @property
    def reconciled(self) -> bool:
        return not self.mismatches and self.net_total == self.ledger_total

    def csv(self) -> str:
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(COLUMNS)
        for x in self.lines:
            w.writerow([x.kind, x.id, x.payment_id, x.entry_id, x.created_at.isoformat(),
                        x.gross.amount, x.fee.amount, x.net.amount, x.net.code])  # fmt: skip
        w.writerow(["total", "", "", "", "", "", "", self.net_total.amount, self.net_total.code])
        return out.getvalue()


@dataclass(frozen=True, slots=True)
class SettlementRun:
    """One business day's settlement across merchants, as the close of business reports it."""

    day: date
    files: tuple[Path, ...]
    lines: int
    unreconciled: tuple[str, ...]  # merchant ids whose file does not match the ledger

    def summary(self) -> dict[str, object]:
        return {"files": len(self.files), "lines": self.lines,
                "unreconciled": list(self.unreconciled)}  # fmt: skip


class SettlementDesk:
    def __init__(
        self, engine: Engine, banking: BankingService, merchants: MerchantDesk, tz: str
    ) -> None:
        self.engine, self.banking, self.merchants, self.tz = engine, banking, merchants, tz

    def daily(self, actor: Principal, merchant_id: str, day: date) -> SettlementFile:
        merchant = self.merchants.get(actor, merchant_id)  # authorises (owner or operator)
        if not is_customer(actor):
            actor.require_scope("payments:read")
        zone = ZoneInfo(self.tz)
        start = datetime.combine(day, time(0), zone)
        end = start + timedelta(days=1)
        cur = merchant.currency
        with unit_of_work(self.engine, write=False) as s:
            payments = s.scalars(
                select(PaymentRow).where(
                    PaymentRow.merchant_id == merchant.id, PaymentRow.status == "completed",
                    PaymentRow.created_at >= start, PaymentRow.created_at < end,
                ).order_by(PaymentRow.id)
            ).all()  # fmt: skip
            refunds = s.execute(
                select(RefundRow, PaymentRow.merchant_id)
                .join(PaymentRow, PaymentRow.id == RefundRow.payment_id)
                .where(
                    PaymentRow.merchant_id == merchant.id, RefundRow.status == "completed",
                    RefundRow.created_at >= start, RefundRow.created_at < end,
                ).order_by(RefundRow.id)
            ).all()  # fmt: skip
        lines = [
            SettlementLine(
                "payment",
                p.id,
                p.id,
                p.entry_id or "",
                aware(p.created_at),
                Money.from_minor(p.amount_minor, cur),
                Money.from_minor(p.fee_minor, cur),
                Money.from_minor(p.amount_minor - p.fee_minor, cur),
            )
            for p in payments
        ]
        for r, _ in refunds:
            lines.append(SettlementLine(
                "refund", r.id, r.payment_id, r.entry_id or "", aware(r.created_at),
                Money.from_minor(r.amount_minor, cur), Money.from_minor(r.fee_minor, cur),
                Money.from_minor(-(r.amount_minor - r.fee_minor), cur),
            ))  # fmt: skip
        lines.sort(key=lambda x: x.created_at)
        moved = self._ledger(merchant.settlement_account_id, start, {x.entry_id for x in lines})
        mismatches = tuple(x.entry_id for x in lines if moved.get(x.entry_id, 0) != x.net.minor)
        net = sum((x.net for x in lines), Money.zero(cur))
        ledger = Money.from_minor(sum(moved.values()), cur)
        return SettlementFile(merchant.id, day, tuple(lines), net, ledger, mismatches)

    def run_day(
        self, actor: Principal, day: date, out_dir: Path, *, batch: int = 500
    ) -> SettlementRun:
        """Write every merchant's settlement file for ``day`` (merchants with nothing that
        day get none); idempotent: a second run writes the same files again."""
        operator_only(actor, "payments:read")
        folder = out_dir / day.isoformat()
        files: list[Path] = []
        lines = 0
        unreconciled: list[str] = []
        for merchant in self.merchants.list(actor, limit=batch):
            sfile = self.daily(actor, merchant.id, day)
            if not sfile.lines:
                continue
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            path = folder / f"{merchant.id}.csv"
            path.write_text(sfile.csv(), encoding="utf-8")
            path.chmod(0o600)
            files.append(path)
            lines += len(sfile.lines)
            if not sfile.reconciled:
                log.warning("settlement of merchant %s on %s does not reconcile", merchant.id, day)
                unreconciled.append(merchant.id)
        return SettlementRun(day, tuple(files), lines, tuple(unreconciled))

    def _ledger(self, account_id: str, since: datetime, wanted: set[str]) -> dict[str, int]:
        """What each wanted entry moved on the account, from its history (newest first)."""
        moved: dict[str, int] = {}
        cursor: str | None = None
        while True:
            page = self.banking.history(PLATFORM, account_id, limit=200, cursor=cursor)
            for item in page.items:
                if item.entry_id in wanted:
                    moved[item.entry_id] = moved.get(item.entry_id, 0) + item.amount.minor
            oldest = page.items[-1].created_at if page.items else None
            if page.next_cursor is None or (oldest is not None and aware(oldest) < since):
                return moved
            cursor = page.next_cursor

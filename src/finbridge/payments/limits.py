"""Per-payment and daily limits per customer and channel, counted in CNY.

A payment first *reserves* its amount on the customer's row for the channel and business day
with one guarded UPDATE (``used + amount <= limit``), so racing payments can never pass the
limit together; the ledger posting follows, and a posting that fails gives its reservation
back. A racing payer may therefore be refused because of a reservation that is later given
back, never admitted past the limit. Other currencies count at the day's ECB reference rate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import Engine, Insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from finbridge.core.clock import Clock, business_date
from finbridge.core.errors import LimitExceeded, ValidationError
from finbridge.core.money import Money
from finbridge.core.settings import PaymentsSettings
from finbridge.payments.rates import ReferenceRates
from finbridge.payments.tables import LimitUsageRow
from finbridge.store.engine import unit_of_work


@dataclass(frozen=True, slots=True)
class Reservation:
    customer_id: str
    channel: str
    day: str
    cny_minor: int


class Limits:
    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        settings: PaymentsSettings,
        rates: ReferenceRates,
        business_timezone: str,
    ) -> None:
        self.engine, self.clock, self.settings = engine, clock, settings
        self.rates, self.tz = rates, business_timezone

    def today(self) -> date:
        return business_date(self.clock.now(), self.tz)

    def in_cny(self, amount: Money) -> Money:
        if amount.code == "CNY":
            return amount
        rate = self.rates.rate(amount.code, "CNY", self.today()).rate
        return Money.rounded(amount.amount * rate, "CNY")

    def _limit(self, table: dict[str, int], channel: str, name: str) -> Money:
        if channel not in table:
            raise ValidationError(f"no {name} is configured for channel {channel}", field="channel")
        return Money.of(Decimal(table[channel]), "CNY")

    def reserve(self, customer_id: str, channel: str, amount: Money) -> Reservation:
        """Count ``amount`` against today's limits, or raise ``LimitExceeded`` naming it."""
        with unit_of_work(self.engine) as s:
            return self.reserve_in(s, customer_id, channel, amount)

    def reserve_in(self, s: Session, customer_id: str, channel: str, amount: Money) -> Reservation:
        """:meth:`reserve` inside the caller's transaction (a payment writes its pending row
        and its reservation together)."""
        counted = self.in_cny(amount)
        single = self._limit(self.settings.per_payment_limit, channel, "per-payment limit")
        if counted > single:
            raise LimitExceeded(
                f"{channel} payments are limited to {single} each", field="amount",
                limit=str(single.amount),
            )  # fmt: skip
        daily = self._limit(self.settings.daily_limit, channel, "daily limit")
        day = self.today().isoformat()
        key = (LimitUsageRow.customer_id == customer_id, LimitUsageRow.channel == channel,
               LimitUsageRow.day == day)  # fmt: skip
        s.execute(
            _insert(self.engine).values(
                customer_id=customer_id, channel=channel, day=day, used_minor=0
            )
        )
        moved = s.execute(
            update(LimitUsageRow)
            .where(*key, LimitUsageRow.used_minor + counted.minor <= daily.minor)
            .values(used_minor=LimitUsageRow.used_minor + counted.minor)
        ).rowcount  # type: ignore[attr-defined]
        if moved != 1:
            used = s.scalar(select(LimitUsageRow.used_minor).where(*key)) or 0
            left = Money.from_minor(max(daily.minor - used, 0), "CNY")
            raise LimitExceeded(
                f"daily {channel} limit of {daily} reached ({left} left today)", field="amount",
                limit=str(daily.amount), remaining=str(left.amount),
            )  # fmt: skip
        return Reservation(customer_id, channel, day, counted.minor)

    def release(self, r: Reservation) -> None:
        """Give back a reservation whose posting did not happen."""
        with unit_of_work(self.engine) as s:
            self.release_in(s, r)

    def release_in(self, s: Session, r: Reservation) -> None:
        s.execute(
            update(LimitUsageRow)
            .where(
                LimitUsageRow.customer_id == r.customer_id,
                LimitUsageRow.channel == r.channel,
                LimitUsageRow.day == r.day,
            )
            .values(used_minor=LimitUsageRow.used_minor - r.cny_minor)
        )

    def used_today(self, customer_id: str, channel: str) -> Money:
        with self.engine.connect() as conn:
            used = conn.scalar(
                select(LimitUsageRow.used_minor).where(
                    LimitUsageRow.customer_id == customer_id,
                    LimitUsageRow.channel == channel,
                    LimitUsageRow.day == self.today().isoformat(),
                )
            )
        return Money.from_minor(int(used or 0), "CNY")


def _insert(engine: Engine) -> Insert:
    """``INSERT ... ON CONFLICT DO NOTHING`` for the usage row, in the engine's dialect."""
    if engine.dialect.name == "postgresql":
        return postgresql.insert(LimitUsageRow).on_conflict_do_nothing()
    return sqlite.insert(LimitUsageRow).on_conflict_do_nothing()

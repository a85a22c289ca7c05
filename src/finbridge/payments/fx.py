"""FX: quotes with a locked rate and a visible fee, executed once as one journal entry.

The bank's rate is the ECB reference rate less a spread (per currency pair and customer tier,
from settings): the customer always gets fewer units of what they buy than the reference rate
gives. Rounding, stated once:

- the fee is the sold amount x ``fx_fee_bps``, half-even to the sold currency's minor unit;
- the bought amount is rounded *down* to its minor unit (JPY: whole yen, KWD: 3 decimals), so
  the bank never pays out a fraction it did not price;
- quoting by the amount to receive rounds what the customer pays *up*, for the same reason.

A conversion is one balanced entry (:meth:`BankingService.post_journal`): customer (sell) ->
FX position (sell) and fee income (sell); FX position (buy) -> customer (buy). The FX
position accounts therefore hold the bank's open position per currency at every moment.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import ROUND_DOWN, ROUND_UP, Context, Decimal

from sqlalchemy import Engine, select, update

from finbridge.banking import BankingService, InternalAccount, JournalLeg
from finbridge.core.clock import Clock, business_date
from finbridge.core.errors import (
    BusinessRuleViolation,
    Conflict,
    CurrencyMismatch,
    NotFound,
    ValidationError,
)
from finbridge.core.ids import new_id
from finbridge.core.money import Money, currency
from finbridge.core.principal import Principal
from finbridge.core.settings import PaymentsSettings
from finbridge.lake import Event, emit
from finbridge.payments._common import (
    PLATFORM,
    WALLET_CURRENCIES,
    act_for,
    aware,
    is_customer,
    load_row,
    operator_only,
    positive_money,
)
from finbridge.payments.models import Conversion, FxPosition, Quote, Tier
from finbridge.payments.rates import ReferenceRate, ReferenceRates
from finbridge.payments.tables import QuoteRow, TierRow
from finbridge.store.engine import unit_of_work

_BPS = Decimal(10_000)
_RATE = Context(prec=10)
FX_POSITION = InternalAccount.FX_POSITION


def bought(sold: Money, rate: Decimal, code: str) -> Money:
    """What ``sold`` buys at ``rate`` in ``code``, rounded down to that currency's minor unit."""
    return Money.rounded(sold.amount * rate, code, ROUND_DOWN)


def needed(target: Money, rate: Decimal, code: str) -> Money:
    """What must be sold in ``code`` to buy ``target`` at ``rate``, rounded up."""
    return Money.rounded(target.amount / rate, code, ROUND_UP)


class FxDesk:
    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        banking: BankingService,
        settings: PaymentsSettings,
        rates: ReferenceRates,
        *,
        business_timezone: str = "Asia/Shanghai",
    ) -> None:
        self.engine, self.clock, self.banking = engine, clock, banking
        self.settings, self.rates, self.tz = settings, rates, business_timezone

    # ------------------------------------------------------------------ rates
    def today(self) -> date:
        return business_date(self.clock.now(), self.tz)

    def spread_bps(self, sell: str, buy: str, tier: Tier) -> int:
        table = self.settings.fx_spread_bps
        for key in (f"{sell}/{buy}:{tier}", f"{buy}/{sell}:{tier}", f"*:{tier}", "*:standard"):
            if key in table:
                return table[key]
        return 0

    def reference(self, sell: str, buy: str, day: date | None = None) -> ReferenceRate:
        for code, field in ((sell, "sell_currency"), (buy, "buy_currency")):
            if code not in WALLET_CURRENCIES:
                allowed = ", ".join(WALLET_CURRENCIES)
                raise ValidationError(f"wallets hold {allowed}, not {code}", field=field)
        if sell == buy:
            raise ValidationError("sell and buy currencies are the same", field="buy_currency")
        return self.rates.rate(sell, buy, day or self.today())

    def rate_history(self, base: str, quote: str, days: int = 90) -> list[ReferenceRate]:
        if not 1 <= days <= 3660:
            raise ValidationError("days must be between 1 and 3660", field="days")
        end = min(self.today(), self.rates.last_date())
        return self.rates.history(base, quote, end - timedelta(days=days), end)

    # ------------------------------------------------------------------ tiers
    def tier_of(self, customer_id: str) -> Tier:
        with self.engine.connect() as conn:
            tier = conn.scalar(select(TierRow.tier).where(TierRow.customer_id == customer_id))
        return Tier(tier) if tier else Tier.STANDARD

    def set_tier(self, actor: Principal, customer_id: str, tier: str) -> Tier:
        operator_only(actor, "payments:admin")
        try:
            value = Tier(tier)
        except ValueError:
            raise ValidationError(
                f"must be one of: {', '.join(t.value for t in Tier)}", field="tier"
            ) from None
        self.banking.get_customer(PLATFORM, customer_id)  # NotFound names the customer
        with unit_of_work(self.engine) as s:
            row = s.get(TierRow, customer_id)
            if row is None:
                s.add(
                    TierRow(customer_id=customer_id, tier=value.value, updated_at=self.clock.now())
                )
            else:
                row.tier, row.updated_at = value.value, self.clock.now()
        return value

    # ------------------------------------------------------------------ quotes
    def quote(
        self,
        actor: Principal,
        customer_id: str,
        *,
        sell_currency: str,
        buy_currency: str,
        sell_amount: Money | None = None,
        buy_amount: Money | None = None,
    ) -> Quote:
        """Price a conversion and hold the price for ``quote_seconds``."""
        act_for(actor, customer_id)
        sell = currency(sell_currency, field="sell_currency").code
        buy = currency(buy_currency, field="buy_currency").code
        if (sell_amount is None) == (buy_amount is None):
            raise ValidationError("give either sell_amount or buy_amount", field="sell_amount")
        ref = self.reference(sell, buy)
        tier = self.tier_of(customer_id)
        spread = self.spread_bps(sell, buy, tier)
        rate = _RATE.multiply(ref.rate, 1 - Decimal(spread) / _BPS)
        fee_rate = Decimal(self.settings.fx_fee_bps) / _BPS
        if sell_amount is not None:
            paid = _amount_in(sell_amount, sell, "sell_amount")
            fee = Money.rounded(paid.amount * fee_rate, sell)
            receive = bought(paid - fee, rate, buy)
        else:
            receive = _amount_in(buy_amount, buy, "buy_amount")
            converted = needed(receive, rate, sell)
            paid = Money.rounded(converted.amount / (1 - fee_rate), sell, ROUND_UP)
            fee = paid - converted
        if not receive.is_positive() or not (paid - fee).is_positive():
            raise ValidationError("amount too small to convert", field="sell_amount")
        now = self.clock.now()
        row = QuoteRow(
            id=new_id(), customer_id=customer_id, sell_currency=sell, buy_currency=buy,
            sell_minor=paid.minor, fee_minor=fee.minor, buy_minor=receive.minor, rate=str(rate),
            reference_rate=str(ref.rate), reference_date=ref.as_of.isoformat(), tier=tier.value,
            spread_bps=spread, status="open", entry_id=None, created_at=now,
            expires_at=now + timedelta(seconds=self.settings.quote_seconds), executed_at=None,
        )  # fmt: skip
        with unit_of_work(self.engine) as s:
            s.add(row)
        return _quote(row)

    def get_quote(self, actor: Principal, quote_id: str) -> Quote:
        row = self._quote_row(quote_id)
        if is_customer(actor):
            if not actor.can_act_for(row.customer_id):
                raise NotFound(f"quote {quote_id} not found", field="quote_id")
        else:
            actor.require_scope("payments:read")
        return _quote(row)

    def _quote_row(self, quote_id: str) -> QuoteRow:
        return load_row(self.engine, QuoteRow, quote_id, "quote", "quote_id")

    def execute(
        self, actor: Principal, quote_id: str, *, from_account_id: str, to_account_id: str
    ) -> Conversion:
        """Convert at the quote's price, once, while it is valid."""
        row = self._quote_row(quote_id)
        if is_customer(actor) and not actor.can_act_for(row.customer_id):
            raise NotFound(f"quote {quote_id} not found", field="quote_id")
        act_for(actor, row.customer_id)
        q = _quote(row)
        self._check_account(from_account_id, row.customer_id, q.sell.code, "from_account_id")
        self._check_account(to_account_id, row.customer_id, q.buy.code, "to_account_id")
        now = self.clock.now()
        attempt = self._claim(q, now)
        converted = q.sell - q.fee
        legs = [
            JournalLeg.take(from_account_id, q.sell, field="from_account_id"),
            JournalLeg.bank(FX_POSITION, converted, debit=False),
            JournalLeg.bank(FX_POSITION, q.buy, debit=True),
            JournalLeg.give(to_account_id, q.buy, field="to_account_id"),
        ]
        if q.fee.is_positive():
            legs.append(JournalLeg.bank(InternalAccount.FEE_INCOME, q.fee, debit=False))
        try:
            posted = self.banking.post_journal(
                PLATFORM, legs, idempotency_key=f"fx:{q.id}:{attempt}",
                description=f"FX {q.sell.code}->{q.buy.code} at {q.rate}",
                requested_by=actor, channel="fx", metadata={"quote_id": q.id},
            )  # fmt: skip
        except BaseException:
            self._release(q.id)
            raise
        with unit_of_work(self.engine) as s:
            s.execute(
                update(QuoteRow)
                .where(QuoteRow.id == q.id)
                .values(status="executed", entry_id=posted.entry_id, executed_at=now)
            )
            emit(s, _converted_event(q, posted.entry_id, now))
        done = replace(q, status="executed", entry_id=posted.entry_id)
        return Conversion(done, posted.entry_id, from_account_id, to_account_id)

    def _check_account(self, account_id: str, customer_id: str, code: str, field: str) -> None:
        try:
            account = self.banking.get_account(PLATFORM, account_id)
        except NotFound:
            raise NotFound(f"account {account_id} not found", field=field) from None
        if account.customer_id != customer_id:
            raise NotFound(f"account {account_id} not found", field=field)
        if account.currency != code:
            raise CurrencyMismatch(
                f"account {account_id} holds {account.currency}; the quote needs {code}",
                field=field,
            )

    def _claim(self, q: Quote, now: datetime) -> int:
        """Take the quote for this execution (one winner under racing requests) and return the
        attempt it runs as: a quote given back after a refusal runs again under a new key."""
        with unit_of_work(self.engine) as s:
            claimed = s.execute(
                update(QuoteRow)
                .where(QuoteRow.id == q.id, QuoteRow.status == "open", QuoteRow.expires_at > now)
                .values(status="executing", attempt=QuoteRow.attempt + 1)
            ).rowcount  # type: ignore[attr-defined]
            if claimed == 1:
                # Read in the claiming transaction: nobody else moves an executing quote.
                return int(s.scalar(select(QuoteRow.attempt).where(QuoteRow.id == q.id)) or 0)
        current = self._quote_row(q.id)
        if current.status != "open":
            raise Conflict(f"quote {q.id} was already used", field="quote_id")
        raise BusinessRuleViolation(
            f"quote {q.id} expired at {aware(current.expires_at).isoformat()}; ask for a new one",
            field="quote_id",
        )

    def _release(self, quote_id: str) -> None:
        with unit_of_work(self.engine) as s:
            s.execute(
                update(QuoteRow)
                .where(QuoteRow.id == quote_id, QuoteRow.status == "executing")
                .values(status="open")
            )

    # ------------------------------------------------------------------ positions
    def positions(self, actor: Principal) -> list[FxPosition]:
        """The bank's FX position per wallet currency and its CNY value at today's ECB rate."""
        operator_only(actor, "payments:read")
        out = []
        day = self.today()
        for code in WALLET_CURRENCIES:
            account = self.banking.internal_account_id(FX_POSITION, code)
            pos = self.banking.balance(PLATFORM, account).balance
            cny = pos if code == "CNY" else None
            if cny is None:
                rate = self.rates.rate(code, "CNY", day).rate
                cny = Money.rounded(pos.amount * rate, "CNY")
            out.append(FxPosition(code, pos, cny))
        return out


def _amount_in(amount: Money | None, code: str, field: str) -> Money:
    value = positive_money(amount, field)
    if value.code != code:
        raise CurrencyMismatch(f"{field} is in {value.code}, the quote is in {code}", field=field)
    return value


def _quote(row: QuoteRow) -> Quote:
    return Quote(
        id=row.id,
        customer_id=row.customer_id,
        sell=Money.from_minor(row.sell_minor, row.sell_currency),
        fee=Money.from_minor(row.fee_minor, row.sell_currency),
        buy=Money.from_minor(row.buy_minor, row.buy_currency),
        rate=Decimal(row.rate),
        reference_rate=Decimal(row.reference_rate),
        reference_date=date.fromisoformat(row.reference_date),
        spread_bps=row.spread_bps,
        tier=Tier(row.tier),
        status=row.status,
        created_at=aware(row.created_at),
        expires_at=aware(row.expires_at),
        entry_id=row.entry_id,
    )


def _converted_event(q: Quote, entry_id: str, now: datetime) -> Event:
    return Event(
        "payments.fx_converted",
        now,
        {
            "quote_id": q.id,
            "entry_id": entry_id,
            "customer_id": q.customer_id,
            "sell_amount": str(q.sell.amount),
            "sell_currency": q.sell.code,
            "fee": str(q.fee.amount),
            "buy_amount": str(q.buy.amount),
            "buy_currency": q.buy.code,
            "rate": str(q.rate),
            "reference_rate": str(q.reference_rate),
        },
        "payments",
        subject_id=q.customer_id,
    )

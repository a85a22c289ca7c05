"""Fund orders on the ledger, holdings with cost basis, valuations.

A subscription moves the cash at order: the customer's account gets a hold placed *as the
customer* (so the risk engine and identity's step-up decide it like any customer payment),
captured at once by the platform into the bank's ``clearing`` account (funds in transit). Units
are allotted at settlement, T+n business days later (weekends skipped, holidays not modelled),
at the first NAV on or after that day, after the subscription fee; the fee then moves from
clearing to ``fee_income``. A redemption takes the units off the holding at order (they cannot
be sold twice) and pays units x NAV - fee from clearing to the account at settlement.

Every step is idempotent by the order's key, scoped to the actor, so a retry after a failure
anywhere repeats nothing: banking's keys make the money steps single, the order row's unique
key makes the order single.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Protocol

import numpy as np
import numpy.typing as npt
from sqlalchemy import Engine, func, select

from finbridge.advisory.catalogue import DEPOSIT_CODE, Product, load_prices
from finbridge.advisory.tables import HoldingRow, OrderRow
from finbridge.banking import BankingService, InternalAccount
from finbridge.core.clock import Clock
from finbridge.core.errors import (
    BusinessRuleViolation,
    IdempotencyConflict,
    NotFound,
    ValidationError,
)
from finbridge.core.ids import new_id
from finbridge.core.money import Money, currency
from finbridge.core.principal import Principal
from finbridge.lake import Event, emit
from finbridge.store.engine import unit_of_work

UNIT = Decimal("0.00000001")
_PLATFORM = Principal.system("advisory")


class NavFeed(Protocol):
    """Net asset values: the first NAV on or after ``day`` and the day it is from."""

    def nav_on_or_after(self, code: str, day: dt.date) -> tuple[dt.date, Decimal]: ...


class HistoryNavFeed:
    """NAVs from the shipped closes. Past their end (2017-11-10) the last close stands in, and
    the order records that NAV's own date, so nobody mistakes it for a live price."""

    def nav_on_or_after(self, code: str, day: dt.date) -> tuple[dt.date, Decimal]:
        if code == DEPOSIT_CODE:
            return day, Decimal(1)  # repaid at par
        prices = load_prices()
        if day > prices.dates[-1]:
            last = prices.column(code)[-1]
            return prices.dates[-1], Decimal(f"{last:.6f}")
        nav_day, nav = prices.nav_on_or_after(code, day)
        return nav_day, Decimal(f"{nav:.6f}")


def add_business_days(day: dt.date, n: int) -> dt.date:
    while n > 0:
        day += dt.timedelta(days=1)
        if day.weekday() < 5:
            n -= 1
    return day


@dataclass(frozen=True)
class Order:
    id: str
    customer_id: str
    account_id: str
    product_code: str
    side: str
    status: str
    amount: Money
    fee: Money
    units: Decimal | None
    nav: Decimal | None
    trade_date: dt.date
    settle_date: dt.date
    suitability_id: str | None
    created_at: dt.datetime

    @classmethod
    def of(cls, row: OrderRow) -> Order:
        return cls(
            row.id, row.customer_id, row.account_id, row.product_code, row.side, row.status,
            Money.from_minor(row.amount_minor, row.currency),
            Money.from_minor(row.fee_minor, row.currency), row.units, row.nav, row.trade_date,
            row.settle_date, row.suitability_id, row.created_at,
        )  # fmt: skip


@dataclass(frozen=True)
class Holding:
    product_code: str
    units: Decimal
    cost: Money
    nav: Decimal
    nav_date: dt.date
    value: Money
    gain: Money


def _fingerprint(*parts: object) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:32]


class OrderBook:
    """Orders and holdings for the advisory service (which authorises and checks suitability)."""

    def __init__(
        self, engine: Engine, clock: Clock, banking: BankingService, feed: NavFeed
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.banking = banking
        self.feed = feed

    def require_account(self, customer_id: str, account_id: str, currency_code: str) -> None:
        """The account must be the customer's own and in the product's currency."""
        account = self.banking.get_account(_PLATFORM, account_id)
        if account.customer_id != customer_id:
            raise NotFound(f"account {account_id} not found", field="account_id")
        if account.currency != currency_code:
            raise ValidationError(f"the account is in {account.currency}", field="account_id")

    def _row(
        self, actor: Principal, idempotency_key: str, fp: str, customer_id: str,
        account_id: str, item: Product, side: str, *, amount_minor: int, fee_minor: int,
        units: Decimal | None, today: dt.date, suitability_id: str | None,
    ) -> OrderRow:  # fmt: skip
        return OrderRow(
            id=new_id(), customer_id=customer_id, account_id=account_id,
            product_code=item.code, side=side, status="pending", amount_minor=amount_minor,
            fee_minor=fee_minor, currency=item.currency, units=units, nav=None,
            trade_date=today, settle_date=add_business_days(today, item.settlement_days),
            suitability_id=suitability_id,
            idempotency_key=f"{actor.kind}:{actor.id}:{idempotency_key}:{fp}",
            created_at=self.clock.now(),
        )  # fmt: skip

    def subscribe(
        self, actor: Principal, customer_id: str, account_id: str, item: Product,
        amount: Money, *, idempotency_key: str, today: dt.date, suitable: Callable[[], str],
    ) -> Order:  # fmt: skip
        """Debit the cash now; the units come at settlement. ``suitable`` runs the suitability
        check (after the input checks and the idempotency lookup) and returns its record id."""
        if amount.code != item.currency:
            raise ValidationError(f"{item.code} is sold in {item.currency}", field="currency")
        if amount < item.minimum:
            raise ValidationError(f"the minimum for {item.code} is {item.minimum}", field="amount")
        self.require_account(customer_id, account_id, amount.code)
        fp = _fingerprint("subscribe", customer_id, account_id, item.code, amount.minor)
        found = self._existing_by_prefix(actor, idempotency_key, fp)
        if found is not None:
            return found
        suitability_id = suitable()
        hold = self.banking.place_hold(
            actor, account_id, amount, idempotency_key=f"adv-sub:{idempotency_key}",
            description=f"subscription {item.code}",
        )  # fmt: skip
        clearing = self.banking.internal_account_id(InternalAccount.CLEARING, amount.code)
        self.banking.capture_hold(
            _PLATFORM, hold.id, to_account_id=clearing, idempotency_key=f"adv-cap:{hold.id}",
            description=f"subscription {item.code} in transit",
        )  # fmt: skip
        fee = Money.from_minor(
            int((Decimal(amount.minor) * item.subscription_fee).to_integral_value()), amount.code
        )
        row = self._row(
            actor, idempotency_key, fp, customer_id, account_id, item, "subscribe",
            amount_minor=amount.minor, fee_minor=fee.minor, units=None, today=today,
            suitability_id=suitability_id,
        )  # fmt: skip
        return self._insert(row)

    def placed_under(self, actor: Principal, idempotency_key: str) -> list[Order]:
        """Orders this actor placed under ``idempotency_key`` (a rebalance's several trades)."""
        prefix = f"{actor.kind}:{actor.id}:{idempotency_key}:"
        with unit_of_work(self.engine, write=False) as session:
            rows = session.scalars(
                select(OrderRow)
                .where(OrderRow.idempotency_key.startswith(prefix, autoescape=True))
                .order_by(OrderRow.created_at, OrderRow.id)
            )
            return [Order.of(r) for r in rows]

    def _existing_by_prefix(self, actor: Principal, idem: str, fp: str) -> Order | None:
        prefix = f"{actor.kind}:{actor.id}:{idem}:"
        with unit_of_work(self.engine, write=False) as session:
            row = session.scalars(
                select(OrderRow).where(OrderRow.idempotency_key.startswith(prefix, autoescape=True))
            ).first()
        if row is None:
            return None
        if row.idempotency_key != prefix + fp:
            raise IdempotencyConflict(
                "this idempotency key was used for another order", field="idempotency_key"
            )
        return Order.of(row)

    def _insert(self, row: OrderRow, *, units_delta: Decimal | None = None) -> Order:
        with unit_of_work(self.engine, write=True) as session:
            session.add(row)
            if units_delta is not None:  # a redemption reserves its units in the same commit
                holding = session.get(HoldingRow, (row.customer_id, row.product_code))
                if holding is None or holding.units + units_delta < 0:
                    raise BusinessRuleViolation("not enough units held", field="units")
                cost = Decimal(holding.cost_minor) * (-units_delta) / holding.units
                holding.cost_minor -= int(cost.to_integral_value())
                holding.units += units_delta
                holding.updated_at = row.created_at
            emit(
                session,
                Event(
                    event_type="advisory.order_placed", occurred_at=row.created_at,
                    source="advisory", subject_id=row.customer_id,
                    payload={
                        "order_id": row.id, "product_code": row.product_code, "side": row.side,
                        "amount": str(Money.from_minor(row.amount_minor, row.currency).amount),
                        "currency": row.currency, "settle_date": row.settle_date.isoformat(),
                    },
                ).validated(),
            )  # fmt: skip
            session.flush()
            return Order.of(row)

    def redeem(
        self, actor: Principal, customer_id: str, account_id: str, item: Product,
        units: Decimal, *, idempotency_key: str, today: dt.date,
    ) -> Order:  # fmt: skip
        """Take ``units`` off the holding now; the cash comes at settlement."""
        if units <= 0 or units != units.quantize(UNIT):
            raise ValidationError("must be positive with at most 8 decimals", field="units")
        self.require_account(customer_id, account_id, item.currency)
        fp = _fingerprint("redeem", customer_id, account_id, item.code, units)
        found = self._existing_by_prefix(actor, idempotency_key, fp)
        if found is not None:
            return found
        _nav_day, nav = self.feed.nav_on_or_after(item.code, today)
        indicative = Money.of((units * nav).quantize(Decimal("0.01"), ROUND_DOWN), item.currency)
        if indicative.minor <= 0:
            raise ValidationError("too few units to redeem", field="units")
        row = self._row(
            actor, idempotency_key, fp, customer_id, account_id, item, "redeem",
            amount_minor=indicative.minor, fee_minor=0, units=units, today=today,
            suitability_id=None,
        )  # fmt: skip
        return self._insert(row, units_delta=-units)

    def settle_due(self, today: dt.date) -> list[Order]:
        """Settle every pending order whose settlement day has come (a nightly job)."""
        with unit_of_work(self.engine, write=False) as session:
            due = list(
                session.scalars(
                    select(OrderRow)
                    .where(OrderRow.status == "pending", OrderRow.settle_date <= today)
                    .order_by(OrderRow.created_at)
                )
            )
        return [self._settle(row.id) for row in due]

    def _settle(self, order_id: str) -> Order:
        with unit_of_work(self.engine, write=False) as session:
            row = session.get(OrderRow, order_id)
            assert row is not None
            if row.status != "pending":
                return Order.of(row)
            order = Order.of(row)
        _nav_day, nav = self.feed.nav_on_or_after(order.product_code, order.settle_date)
        clearing = self.banking.internal_account_id(InternalAccount.CLEARING, order.amount.code)
        if order.side == "subscribe":
            invested = (order.amount - order.fee).amount
            units = (invested / nav).quantize(UNIT, ROUND_DOWN)
            if order.fee.minor > 0:
                fees = self.banking.internal_account_id(InternalAccount.FEE_INCOME, order.fee.code)
                self.banking.transfer(
                    _PLATFORM, clearing, fees, order.fee, idempotency_key=f"adv-fee:{order.id}",
                    description=f"subscription fee {order.product_code}",
                )  # fmt: skip
            payout = None
        else:
            assert order.units is not None
            units = order.units
            payout = Money.of(
                (units * nav).quantize(Decimal("0.01"), ROUND_DOWN), order.amount.code
            )
            if payout.minor > 0:
                self.banking.transfer(
                    _PLATFORM, clearing, order.account_id, payout,
                    idempotency_key=f"adv-red:{order.id}",
                    description=f"redemption {order.product_code}",
                )  # fmt: skip
        with unit_of_work(self.engine, write=True) as session:
            row = session.get(OrderRow, order_id, with_for_update=True)
            assert row is not None
            if row.status != "pending":
                return Order.of(row)
            row.status, row.nav, row.units = "settled", nav, units
            if payout is not None:
                row.amount_minor = max(payout.minor, 1)
            if row.side == "subscribe":
                holding = session.get(HoldingRow, (row.customer_id, row.product_code))
                if holding is None:
                    holding = HoldingRow(
                        customer_id=row.customer_id, product_code=row.product_code,
                        units=Decimal(0), cost_minor=0, currency=row.currency,
                        updated_at=self.clock.now(),
                    )  # fmt: skip
                    session.add(holding)
                holding.units = holding.units + units
                holding.cost_minor += row.amount_minor
                holding.updated_at = self.clock.now()
            session.flush()
            return Order.of(row)

    def orders(self, customer_id: str, limit: int = 100) -> list[Order]:
        with unit_of_work(self.engine, write=False) as session:
            rows = session.scalars(
                select(OrderRow)
                .where(OrderRow.customer_id == customer_id)
                .order_by(OrderRow.created_at.desc(), OrderRow.id.desc())
                .limit(limit)
            )
            return [Order.of(r) for r in rows]

    def holdings(self, customer_id: str, today: dt.date) -> list[Holding]:
        with unit_of_work(self.engine, write=False) as session:
            rows = list(
                session.scalars(
                    select(HoldingRow)
                    .where(HoldingRow.customer_id == customer_id, HoldingRow.units > 0)
                    .order_by(HoldingRow.product_code)
                )
            )
        result = []
        for r in rows:
            nav_day, nav = self.feed.nav_on_or_after(r.product_code, today)
            value = Money.of((r.units * nav).quantize(Decimal("0.01"), ROUND_DOWN), r.currency)
            cost = Money.from_minor(r.cost_minor, r.currency)
            result.append(Holding(r.product_code, r.units, cost, nav, nav_day, value, value - cost))
        return result

    def pending_subscriptions(self, customer_id: str) -> dict[str, Money]:
        """Per product, the cash paid (net of the fee) for units not yet allotted."""
        with unit_of_work(self.engine, write=False) as session:
            rows = session.execute(
                select(
                    OrderRow.product_code, OrderRow.currency,
                    func.sum(OrderRow.amount_minor - OrderRow.fee_minor),
                )
                .where(
                    OrderRow.customer_id == customer_id, OrderRow.status == "pending",
                    OrderRow.side == "subscribe",
                )
                .group_by(OrderRow.product_code, OrderRow.currency)
            ).all()  # fmt: skip
        return {code: Money.from_minor(int(minor), cur) for code, cur, minor in rows}

    def valued_positions(
        self, today: dt.date, column: dict[str, int]
    ) -> tuple[list[str], npt.NDArray[np.float64]]:
        """Every customer's holdings as a customers x products matrix of market values, pending
        subscriptions counted at the cash paid for them (the units are on their way)."""
        with unit_of_work(self.engine, write=False) as session:
            rows = session.execute(
                select(HoldingRow.customer_id, HoldingRow.product_code, HoldingRow.units).where(
                    HoldingRow.units > 0
                )
            ).all()
            pending = session.execute(
                select(
                    OrderRow.customer_id, OrderRow.product_code, OrderRow.currency,
                    func.sum(OrderRow.amount_minor - OrderRow.fee_minor),
                )
                .where(OrderRow.status == "pending", OrderRow.side == "subscribe")
                .group_by(OrderRow.customer_id, OrderRow.product_code, OrderRow.currency)
            ).all()  # fmt: skip
        customers = sorted({r[0] for r in rows} | {r[0] for r in pending})
        index = {c: i for i, c in enumerate(customers)}
        navs = {code: float(self.feed.nav_on_or_after(code, today)[1]) for code in column}
        values = np.zeros((len(customers), len(column)))
        for customer_id, code, units in rows:
            values[index[customer_id], column[code]] += float(units) * navs[code]
        for customer_id, code, code_currency, minor in pending:
            # The drift check works on ratios of values: major units as floats are enough.
            values[index[customer_id], column[code]] += (
                int(minor) / 10 ** currency(code_currency).minor_units
            )
        return customers, values

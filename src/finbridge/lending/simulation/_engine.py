"""The month-by-month portfolio simulation, vectorised over customers (NumPy, integer minor
units throughout, one seeded random generator, so a seed gives the same run every time).

Each month, for every line that had a statement:
1. **Repayment** by the due date: the customer's behaviour state moves one step along the fitted
   chain. Pay in full: the statement balance. Minimum: the minimum due plus any arrears. A late
   state: a line one cycle further behind than it was pays nothing (one more missed payment; a
   line falls at most one month further behind per cycle); a late state at or below the line's
   current delinquency pays the share of what is due that brings it back there. Payments meet
   fees and interest first, then principal (the waterfall's order of charges before principal).
2. **Interest** on the principal (never on interest or fees) at the product's ``daily_rate``,
   only when the statement was not paid in full: each of the cycle's purchases from its day to
   the statement, the statement's principal to the due date and what stays unpaid from then to
   the month's end. A statement paid in full bears none (the interest-free period). Rounded half
   to even to the minor unit, as the product's own minimum rule is.
3. **Late fee** (the product's) for every due date missed; **charge-off** of the whole balance
   once a line is ``ceil(charge_off_dpd / 30)`` payments behind; lines at least
   ``ceil(suspend_at_dpd / 30)`` behind cannot spend (a month past due counts as 30 days).
4. **Spending** (open, not suspended lines): Poisson(the cardholder's daily rate x the month's
   days) payments, each an amount drawn from the cardholder's own handbook amounts, on a
   uniform day; days are taken in order until the first whose payments do not fit the available
   limit (the ledger's floor refuses them; the customer stops for the month).
5. **Statement** at the month's end: charges billed, the minimum due by the product's rule.

Not simulated: cash advances, instalment conversions, refunds, recoveries after charge-off,
business-day shifts of the due date.
"""

from __future__ import annotations

import calendar
import time
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np

from finbridge.core.money import Money
from finbridge.lending.products import ProductTerms, rate_e6
from finbridge.lending.simulation._behaviour import (
    FULL,
    I64,
    MINIMUM,
    RepaymentModel,
    status_state,
)
from finbridge.lending.simulation._data import Clients, Spending
from finbridge.lending.simulation._params import SimulationParams
from finbridge.lending.simulation._result import (
    MonthFigures,
    RollRate,
    SimulationResult,
    Vintage,
)

MILLION = 1_000_000


@dataclass(frozen=True, slots=True)
class CustomerTotals:
    """Per simulated customer, integer minor units over the whole run (for checks)."""

    client_ids: I64
    spend: I64
    payments: I64
    interest: I64
    fees: I64
    charge_offs: I64
    balance: I64  # owed at the end


@dataclass(frozen=True, slots=True)
class SimulationRun:
    result: SimulationResult
    customers: CustomerTotals


def div_half_even(numerator: I64, denominator: int) -> I64:
    """``numerator / denominator`` rounded half to even, exactly, for non-negative integers."""
    q, r = np.divmod(numerator, denominator)
    up = (2 * r > denominator) | ((2 * r == denominator) & (q % 2 == 1))
    return q + up


def minimum_due(closing: I64, billed: I64, terms: ProductTerms) -> I64:
    """The product's minimum payment for whole arrays: a share of the principal plus the
    charges billed, at least the floor, never more than the closing balance (the rule the
    close of business applies line by line; a test holds the two to the same answers)."""
    pct = rate_e6(terms.min_payment_pct, "min_payment_pct")
    principal = np.maximum(0, closing - billed)
    share = div_half_even(principal * pct, MILLION) + billed
    due = np.minimum(closing, np.maximum(terms.min_payment_floor.minor, share))
    return np.where(closing > 0, due, 0)


def _months(start: date, count: int) -> list[tuple[str, int]]:
    out = []
    year, month = start.year, start.month
    for _ in range(count):
        out.append((f"{year:04d}-{month:02d}", calendar.monthrange(year, month)[1]))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def _months_behind(days: int) -> int:
    return -(-days // 30)


def simulate(
    terms: ProductTerms,
    clients: Clients,
    spending: Spending,
    model: RepaymentModel,
    params: SimulationParams,
    *,
    now: datetime,
) -> SimulationRun:
    began = time.perf_counter()
    rng = np.random.default_rng(params.seed)
    n = params.customers
    pick = rng.choice(len(clients.ids), size=n, replace=False)
    ids = clients.ids[pick]
    unit = Money.of("1", terms.currency).minor
    fx_e6 = int(params.fx * MILLION)
    limit_units = clients.limit_twd[pick] * fx_e6 // MILLION // 100 * 100
    limit = np.clip(limit_units * unit, terms.limit_min.minor, terms.limit_max.minor)
    # Client ID spends like the (ID - 1 mod n)-th cardholder of the slice, in cardholder order:
    # the demo's pairing (cardholder k is client k + 1) but for the few absent cardholders.
    holder = (ids - 1) % spending.cardholders
    cohort_of = rng.integers(0, params.cohorts, n)
    opened = [c * params.months // params.cohorts for c in range(params.cohorts)]
    origin = np.asarray(opened, dtype=np.int64)[cohort_of]
    state = status_state(clients.status[pick, 0])  # each customer's own first observed status

    rate = rate_e6(terms.daily_rate, "daily_rate")
    late_fee = terms.late_fee.minor
    off_at = _months_behind(terms.charge_off_dpd)
    stop_at = _months_behind(terms.suspend_at_dpd)
    labels = ("current", *(f"M{k}" for k in range(1, off_at)))

    zeros = np.zeros(n, dtype=np.int64)
    charges, principal = zeros.copy(), zeros.copy()  # owed: fees + interest, and principal
    stmt_balance, stmt_principal, due = zeros.copy(), zeros.copy(), zeros.copy()
    weighted = zeros.copy()  # sum of last cycle's purchases x days to the statement
    arrears, behind = zeros.copy(), zeros.copy()
    charged = np.zeros(n, dtype=bool)
    ever_60 = np.zeros(n, dtype=bool)
    tot = {k: zeros.copy() for k in ("spend", "payments", "interest", "fees", "charge_offs")}
    rolls = np.zeros((off_at, off_at + 1), dtype=np.int64)
    months: list[MonthFigures] = []
    curves: list[list[tuple[float, float]]] = [[] for _ in range(params.cohorts)]

    for t, (label, days) in enumerate(_months(params.start, params.months)):
        draws = rng.random(n)  # drawn for everyone every month: a run is one fixed stream
        grace_days = min(terms.due_days, days - 1)
        # 1. Repayment of last month's statement.
        billed = (origin < t) & ~charged
        state[billed] = model.step(state[billed], draws[billed])
        has_due = billed & (due > 0)
        target = np.where(state >= 2, state - 1, 0)
        late = has_due & (target > 0)
        new_behind = np.where(late, np.minimum(target, behind + 1), 0)
        total_due = arrears + due
        pay = np.where(has_due & (state == FULL), stmt_balance, 0)
        pay = np.where(has_due & (state == MINIMUM), total_due, pay)
        cure = late & (new_behind <= behind)
        pay = np.where(cure, total_due * (behind + 1 - new_behind) // (behind + 1), pay)
        pay = np.minimum(pay, charges + principal)
        arrears = np.where(late, total_due - np.minimum(pay, total_due), 0)
        source = behind.copy()
        behind = np.where(billed, new_behind, behind)
        to_charges = np.minimum(pay, charges)
        charges -= to_charges
        principal -= pay - to_charges
        unpaid = has_due & (pay < stmt_balance)
        base = weighted + stmt_principal * grace_days + principal * (days - grace_days)
        interest = np.where(unpaid, div_half_even(base * rate, MILLION), 0)
        fees = np.where(late, late_fee, 0)
        # 3. Charge-off: the whole balance, before this month's charges are billed.
        off = billed & (behind >= off_at)
        written = np.where(off, charges + principal, 0)
        charges[off], principal[off] = 0, 0
        interest[off], fees[off], arrears[off], due[off] = 0, 0, 0, 0
        charged |= off
        ever_60 |= billed & (behind >= 2)
        rolled = has_due & (source < off_at)
        np.add.at(rolls, (source[rolled], np.minimum(behind[rolled], off_at)), 1)
        # 4. Spending.
        spenders = (origin <= t) & ~charged & (behind < stop_at)
        spend, weighted = _spend(rng, spending, holder, spenders, limit - charges - principal, days)
        principal += spend
        # 5. Statement.
        lines = (origin <= t) & ~charged
        charges += interest + fees
        stmt_balance = np.where(lines, charges + principal, 0)
        stmt_principal = np.where(lines, principal, 0)
        due = np.where(lines, minimum_due(stmt_balance, interest + fees, terms), 0)
        for key, flow in (
            ("spend", spend), ("payments", pay), ("interest", interest), ("fees", fees),
            ("charge_offs", written),
        ):  # fmt: skip
            tot[key] += flow
        months.append(
            MonthFigures(
                month=label,
                open_lines=int(lines.sum()),
                charged_off_lines=int(off.sum()),
                buckets=tuple(int(x) for x in np.bincount(behind[lines], minlength=off_at)),
                limit_minor=int(limit[lines].sum()),
                balance_minor=int(stmt_balance.sum()),
                spend_minor=int(spend.sum()),
                payments_minor=int(pay.sum()),
                interest_minor=int(interest.sum()),
                fees_minor=int(fees.sum()),
                charge_offs_minor=int(written.sum()),
            )
        )
        for c in range(params.cohorts):
            members = cohort_of == c
            if opened[c] <= t and members.any():
                curves[c].append((float(charged[members].mean()), float(ever_60[members].mean())))

    names = _months(params.start, params.months)
    vintages = tuple(
        Vintage(
            names[opened[c]][0],
            int((cohort_of == c).sum()),
            tuple(round(a, 6) for a, _ in curves[c]),
            tuple(round(b, 6) for _, b in curves[c]),
        )
        for c in range(params.cohorts)
    )
    roll_labels = (*labels, "charged off")
    roll_rates = tuple(
        RollRate(roll_labels[b], roll_labels[b + 1], int(rolls[b].sum()), int(rolls[b, b + 1]))
        for b in range(off_at)
    )
    result = SimulationResult(
        params=params,
        product=terms.to_json(),
        model=model.to_json(),
        bucket_labels=labels,
        months=tuple(months),
        roll_rates=roll_rates,
        vintages=vintages,
        created_at=now,
        seconds=round(time.perf_counter() - began, 3),
    )
    totals = CustomerTotals(ids, balance=charges + principal, **tot)
    return SimulationRun(result, totals)


def _spend(
    rng: np.random.Generator,
    spending: Spending,
    holder: I64,
    spenders: np.ndarray,
    available: I64,
    days: int,
) -> tuple[I64, I64]:
    """One month of card payments per spender: (amount, amount x days to the month's end).

    Payments are summed per customer and day; days are taken in order while the running total
    fits the available limit, and the first day that does not is refused whole (the ledger's
    floor refuses its payments) with every later one: the customer stops for the month.
    """
    n = len(holder)
    who = np.flatnonzero(spenders)
    counts = rng.poisson(spending.daily_rate[holder[who]] * days)
    owner = np.repeat(who, counts)
    own = holder[owner]
    pick = spending.start[own] + (rng.random(len(owner)) * spending.count[own]).astype(np.int64)
    amount = spending.amounts_minor[pick]
    day = rng.integers(0, days, len(owner))
    # Whole minor units summed as float64 stay exact far beyond any month's spending (2**53).
    per_day = np.bincount(owner * days + day, weights=amount, minlength=n * days)
    per_day = np.rint(per_day).astype(np.int64).reshape(n, days)
    taken = np.cumsum(per_day, axis=1) <= np.maximum(available, 0)[:, None]
    taken = np.cumprod(taken, axis=1).astype(bool)  # nothing after the first refused day
    kept = np.where(taken, per_day, 0)
    to_end = np.arange(days, 0, -1, dtype=np.int64)  # a payment on day d bears days - d
    return kept.sum(axis=1), kept @ to_end

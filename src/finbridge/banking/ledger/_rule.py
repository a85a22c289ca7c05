"""The ledger's posting rule, specified once.

Every balance change on every path (a transfer on SQLite or PostgreSQL, a hold, a capture, the
card batch, interest) is a guarded ``UPDATE ... FROM (legs)`` whose WHERE clause is compiled
from :data:`RULE` for the connection's dialect, and a refusal is explained by evaluating the
same conditions one by one (:func:`explain`), so the rule and its error messages cannot drift
apart. The database triggers of ``banking_0001`` stay as the last line of defence.

A leg is a *debit* when it takes money out (a negative amount) or changes what is held; debits
need an open account with enough available balance above its floor. Credits only need an
account that is not closed: a frozen account still receives money.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from functools import cache
from typing import NoReturn

from sqlalchemy import Boolean, Connection, and_, between, case, column, not_, or_, table
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.elements import ColumnElement

from finbridge.core.errors import (
    AccountNotActive,
    Conflict,
    CurrencyMismatch,
    FinbridgeError,
    InsufficientFunds,
    LimitExceeded,
    NotFound,
)
from finbridge.core.money import MAX_BALANCE_MINOR, Money

# The two sides every condition talks about: the account row ``a`` and the leg ``v``.
a = table(
    "a",
    column("id"),
    column("customer_id"),
    column("currency"),
    column("status"),
    column("balance_minor"),
    column("held_minor"),
    column("floor_minor"),
    column("allow_negative", Boolean),
)
v = table(
    "v",
    column("id"),
    column("cur"),
    column("delta"),
    column("rel"),
    column("owner"),
    column("customers_only", Boolean),
)


@dataclass(frozen=True, slots=True)
class Leg:
    """One side of an entry: a signed amount in ``currency`` (positive credits the account).

    ``release_held`` is taken off the account's held amount in the same UPDATE (a capture gives
    back the hold; a negative value places one). ``owner`` confines the leg to that customer's
    accounts (customers acting for themselves); ``customers_only`` refuses the bank's own
    accounts (a transfer by anyone but the platform). ``field`` names the request field a
    refusal points at.
    """

    account_id: str
    currency: str
    amount_minor: int
    release_held: int = 0
    owner: str | None = None
    customers_only: bool = False
    field: str = "account_id"

    @property
    def is_debit(self) -> bool:
        return self.amount_minor < 0 or self.release_held != 0


class Applies(Enum):
    ALWAYS = "always"
    DEBIT = "debit"
    CREDIT = "credit"


@dataclass(frozen=True, slots=True)
class Condition:
    """One named part of the rule: its SQL and which legs it binds."""

    name: str
    applies: Applies
    clause: ColumnElement[bool]

    def binds(self, leg: Leg) -> bool:
        if self.applies is Applies.ALWAYS:
            return True
        return leg.is_debit == (self.applies is Applies.DEBIT)


# Order matters for explanations: ownership first, so a refusal never tells a customer anything
# about someone else's account.
RULE: tuple[Condition, ...] = (
    Condition("owner", Applies.ALWAYS, or_(v.c.owner.is_(None), a.c.customer_id == v.c.owner)),
    Condition(
        "customer_account",
        Applies.ALWAYS,
        or_(not_(v.c.customers_only), a.c.customer_id.is_not(None)),
    ),
    Condition("currency", Applies.ALWAYS, a.c.currency == v.c.cur),
    Condition("not_closed", Applies.CREDIT, a.c.status != "closed"),
    Condition("open", Applies.DEBIT, a.c.status == "open"),
    Condition("held", Applies.DEBIT, a.c.held_minor >= v.c.rel),
    Condition(
        "floor",
        Applies.DEBIT,
        or_(
            a.c.allow_negative,
            a.c.balance_minor - a.c.held_minor + v.c.delta + v.c.rel >= a.c.floor_minor,
        ),
    ),
    # Every balance, the bank's own included, stays within the documented bound, far inside a
    # 64-bit integer: SQLite would silently turn an overflowing sum into a float, PostgreSQL
    # would abort the statement. Movements are bounded too, so this sum cannot overflow.
    Condition(
        "ceiling",
        Applies.ALWAYS,
        between(a.c.balance_minor + v.c.delta, -MAX_BALANCE_MINOR, MAX_BALANCE_MINOR),
    ),
)

_IS_DEBIT = or_(v.c.delta < 0, v.c.rel != 0)


def _rule_clause() -> ColumnElement[bool]:
    always = [c.clause for c in RULE if c.applies is Applies.ALWAYS]
    debit = [c.clause for c in RULE if c.applies is Applies.DEBIT]
    credit = [c.clause for c in RULE if c.applies is Applies.CREDIT]
    return and_(*always, case((_IS_DEBIT, and_(*debit)), else_=and_(*credit)))


def _sql(expr: ColumnElement[bool], dialect: Dialect) -> str:
    # Only constants of the rule are inlined ('open', 'closed'); every value is a bound leg.
    return str(expr.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


@cache
def rule_sql(dialect: Dialect) -> str:
    """The rule as a WHERE-clause fragment over ``a`` (account) and ``v`` (leg)."""
    return _sql(_rule_clause(), dialect)


@cache
def conditions_sql(dialect: Dialect) -> tuple[tuple[str, str], ...]:
    """Each condition's SQL, labelled, for :func:`explain`."""
    return tuple((c.name, _sql(c.clause, dialect)) for c in RULE)


def refusal(conn: Connection, leg: Leg) -> FinbridgeError | None:
    """The precise error the rule refuses ``leg`` with now, or None if it admits it."""
    from finbridge.banking.ledger._statements import execute, explain_statement

    row = execute(conn, explain_statement(conn.dialect), _explain_params(leg)).first()
    if row is None:
        return NotFound(f"account {leg.account_id} not found", field=leg.field)
    for condition in RULE:
        if condition.binds(leg) and not getattr(row, f"ok_{condition.name}"):
            return _ERRORS[condition.name](leg, row)
    return None


def explain(conn: Connection, *legs: Leg) -> NoReturn:
    """Raise why the rule refuses the first refused of ``legs`` (never reveals others' data).

    Raises :class:`Conflict` if the rule admits them all now: the accounts changed between the
    posting and this read, and the client may retry with the same idempotency key.
    """
    for leg in legs:
        error = refusal(conn, leg)
        if error is not None:
            raise error
    raise Conflict(
        "the account changed while posting; retry with the same idempotency key",
        field="idempotency_key",
    )


def _explain_params(leg: Leg) -> dict[str, object]:
    return {
        "id0": leg.account_id,
        "cur0": leg.currency,
        "d0": leg.amount_minor,
        "r0": leg.release_held,
        "o0": leg.owner,
        "c0": leg.customers_only,
    }


def _not_found(leg: Leg, row: object) -> FinbridgeError:
    return NotFound(f"account {leg.account_id} not found", field=leg.field)


def _currency(leg: Leg, row: object) -> FinbridgeError:
    held = getattr(row, "currency")  # noqa: B009 - a Row attribute
    return CurrencyMismatch(
        f"account {leg.account_id} holds {held}, not {leg.currency}", field="currency"
    )


def _status(leg: Leg, row: object) -> FinbridgeError:
    status = getattr(row, "status")  # noqa: B009
    return AccountNotActive(f"account {leg.account_id} is {status}", field=leg.field, status=status)


def _held(leg: Leg, row: object) -> FinbridgeError:
    return Conflict(f"account {leg.account_id} no longer holds that amount", field="hold_id")


def _funds(leg: Leg, row: object) -> FinbridgeError:
    balance, held = getattr(row, "balance_minor"), getattr(row, "held_minor")  # noqa: B009
    available = Money.from_minor(int(balance) - int(held), leg.currency)
    return InsufficientFunds(
        f"account {leg.account_id} has {available} available",
        field="amount",
        available=str(available.amount),
    )


def _ceiling(leg: Leg, row: object) -> FinbridgeError:
    limit = Money.from_minor(MAX_BALANCE_MINOR, leg.currency)
    return LimitExceeded(
        f"account {leg.account_id} would pass the maximum balance of {limit}",
        field="amount",
        maximum=str(limit.amount),
    )


_ERRORS: dict[str, Callable[[Leg, object], FinbridgeError]] = {
    "owner": _not_found,
    "customer_account": _not_found,
    "currency": _currency,
    "not_closed": _status,
    "open": _status,
    "held": _held,
    "floor": _funds,
    "ceiling": _ceiling,
}

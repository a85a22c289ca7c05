"""Property-based: random operation sequences against a model of the ledger.

Every operation's outcome (success, or the precise refusal) is predicted by a plain-Python model;
after each sequence the database must agree with the model, money per currency must be conserved
(all accounts, the bank's own included, sum to zero) and balances must equal their postings.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import count
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from finbridge.banking import BankingService
from finbridge.core import AccountNotActive, InsufficientFunds, Money, Principal

N = 3
_run = count()

ops = st.lists(
    st.one_of(
        st.tuples(
            st.just("transfer"),
            st.integers(0, N - 1),
            st.integers(0, N - 1),
            st.integers(1, 9000),
        ),
        st.tuples(st.just("deposit"), st.integers(0, N - 1), st.integers(1, 5000)),
        st.tuples(st.just("withdraw"), st.integers(0, N - 1), st.integers(1, 9000)),
        st.tuples(st.just("hold"), st.integers(0, N - 1), st.integers(1, 9000)),
        st.tuples(st.just("release"), st.integers(0, 5)),
        st.tuples(st.just("capture"), st.integers(0, 5), st.integers(0, N - 1)),
        st.tuples(st.just("freeze"), st.integers(0, N - 1)),
        st.tuples(st.just("unfreeze"), st.integers(0, N - 1)),
    ),
    min_size=1,
    max_size=20,
)


def _cny(minor: int) -> Money:
    return Money.from_minor(minor, "CNY")


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sequence=ops)
def test_random_operation_sequences_match_the_model(
    svc: BankingService, system: Principal, sequence: list[tuple]
) -> None:
    run = next(_run)
    cid = svc.create_customer(system, kind="personal", display_name=f"p{run}").id
    accts = [
        svc.open_account(system, cid, kind="current", currency_code="CNY").id for _ in range(N)
    ]
    bal = [0] * N
    held = [0] * N
    frozen = [False] * N
    holds: list[tuple[str, int, int, bool]] = []  # id, account index, amount, active
    for step, op in enumerate(sequence):
        key = f"{run}-{step}"
        kind = op[0]
        if kind == "transfer" and op[1] != op[2]:
            _, i, j, amt = op
            expect = _debit_outcome(bal[i] - held[i], amt, frozen[i])
            if _attempt(expect, svc.transfer, system, accts[i], accts[j], _cny(amt), key):
                bal[i] -= amt
                bal[j] += amt
        elif kind == "deposit":
            _, i, amt = op
            svc.deposit(system, accts[i], _cny(amt), idempotency_key=key)
            bal[i] += amt
        elif kind == "withdraw":
            _, i, amt = op
            expect = _debit_outcome(bal[i] - held[i], amt, frozen[i])
            if _attempt(expect, svc.withdraw, system, accts[i], _cny(amt), key):
                bal[i] -= amt
        elif kind == "hold":
            _, i, amt = op
            expect = _debit_outcome(bal[i] - held[i], amt, frozen[i])
            hold = _attempt(expect, svc.place_hold, system, accts[i], _cny(amt), key)
            if hold:
                held[i] += amt
                holds.append((hold.id, i, amt, True))
        elif kind == "release" and op[1] < len(holds) and holds[op[1]][3]:
            hid, i, amt, _ = holds[op[1]]
            svc.release_hold(system, hid)
            held[i] -= amt
            holds[op[1]] = (hid, i, amt, False)
        elif (
            kind == "capture"
            and op[1] < len(holds)
            and holds[op[1]][3]
            and op[2] != holds[op[1]][1]
        ):
            hid, i, amt, _ = holds[op[1]]
            expect = AccountNotActive if frozen[i] else None
            if _attempt(expect, _capture, svc, hid, accts[op[2]], key):
                held[i] -= amt
                bal[i] -= amt
                bal[op[2]] += amt
                holds[op[1]] = (hid, i, amt, False)
        elif kind == "freeze":
            svc.freeze_account(system, accts[op[1]])
            frozen[op[1]] = True
        elif kind == "unfreeze":
            svc.unfreeze_account(system, accts[op[1]])
            frozen[op[1]] = False

    for k, acc in enumerate(accts):
        b = svc.balance(system, acc)
        assert (b.balance.minor, b.held.minor) == (bal[k], held[k])
        assert b.available.minor >= 0
    report = svc.verify_ledger(system)
    assert report.ok, report
    assert report.totals_by_currency.get("CNY", 0) == 0  # conserved, the bank's side included


def _debit_outcome(available: int, amount: int, frozen: bool) -> type[Exception] | None:
    if frozen:
        return AccountNotActive
    return InsufficientFunds if amount > available else None


def _capture(svc: BankingService, hold_id: str, to: str, *, idempotency_key: str) -> object:
    # Called through _attempt, which passes the key by name.
    return svc.capture_hold(
        Principal.system("test"), hold_id, to_account_id=to, idempotency_key=idempotency_key
    )


def _attempt(expected: type[Exception] | None, call: Callable[..., Any], *args: Any) -> Any:
    """Run ``call(*args[:-1], idempotency_key=args[-1])``; check the model's predicted outcome."""
    try:
        result = call(*args[:-1], idempotency_key=args[-1])
    except (AccountNotActive, InsufficientFunds) as exc:
        assert type(exc) is expected, f"refused with {exc!r}, model expected {expected}"
        return None
    assert expected is None, f"succeeded, model expected {expected}"
    return result

"""Rebalancing: the 5/25 bands, cash-flow first, minimum trades, reasons, the nightly check."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from tests.advisory.conftest import BALANCED, new_customer

from finbridge.advisory import AdvisoryService, ModelReport
from finbridge.advisory.rebalance import drift_check, out_of_band, propose
from finbridge.core import ManualClock, Principal
from finbridge.core.errors import PermissionDenied, ValidationError
from finbridge.core.money import Money

SYSTEM = Principal.system("test")
TARGET = {"SPY": 0.6, "AGG": 0.4}


def usd(x: str) -> Money:
    return Money.of(x, "USD")


@pytest.mark.parametrize(
    ("weight", "target", "out"),
    [
        (0.66, 0.60, True),  # 6 points: over the 5-point band
        (0.64, 0.60, False),
        (0.13, 0.10, True),  # 3 points but 30% of a 10% target
        (0.12, 0.10, False),
        (0.01, 0.00, True),  # anything in a fund the model does not hold
    ],
)
def test_band_rule(weight: float, target: float, out: bool) -> None:
    assert bool(out_of_band(np.array([weight]), np.array([target]))[0]) is out


def test_out_of_band_sells_and_buys_to_target_with_reasons() -> None:
    p = propose({"SPY": usd("700"), "AGG": usd("300")}, TARGET, new_cash=usd("0"),
                min_trade=usd("10"))  # fmt: skip
    assert set(p.out_of_band) == {"SPY", "AGG"}
    trades = {t.product_code: t for t in p.trades}
    assert (trades["SPY"].side, trades["SPY"].amount) == ("sell", usd("100.00"))
    assert (trades["AGG"].side, trades["AGG"].amount) == ("buy", usd("100.00"))
    assert "70.0% vs target 60.0%" in trades["SPY"].reason and "out of band" in trades["SPY"].reason


def test_new_money_goes_to_underweights_first_without_sales() -> None:
    p = propose({"SPY": usd("700"), "AGG": usd("300")}, TARGET, new_cash=usd("200"),
                min_trade=usd("10"))  # fmt: skip
    assert all(t.side == "buy" for t in p.trades)
    assert {t.product_code: t.amount for t in p.trades} == {"AGG": usd("180.00"),
                                                             "SPY": usd("20.00")}  # fmt: skip
    assert all("no sale needed" in t.reason for t in p.trades)


def test_in_band_means_no_trades_and_small_trades_are_skipped() -> None:
    calm = propose({"SPY": usd("620"), "AGG": usd("380")}, TARGET, new_cash=usd("0"),
                   min_trade=usd("10"))  # fmt: skip
    assert calm.trades == () and calm.out_of_band == ()
    small = propose({"SPY": usd("700"), "AGG": usd("300")}, TARGET, new_cash=usd("0"),
                    min_trade=usd("150"))  # fmt: skip
    assert (
        small.trades == () and len(small.skipped) == 2 and "below the minimum" in small.skipped[0]
    )


@pytest.mark.parametrize(
    ("target", "cash", "field"),
    [
        ({"SPY": 0.6, "AGG": 0.3}, "0", "target"),  # weights that do not sum to one
        ({"SPY": 1.2, "AGG": -0.2}, "0", "target"),
        (TARGET, "-1", "new_cash"),
    ],
)
def test_bad_models_and_cash(target: dict[str, float], cash: str, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        propose({"SPY": usd("700")}, target, new_cash=usd(cash), min_trade=usd("10"))
    assert info.value.field == field


def test_drift_check_matches_the_per_account_rule() -> None:
    rng = np.random.default_rng(7)
    targets = rng.dirichlet(np.ones(6), size=5)
    values = rng.uniform(0, 1000, size=(500, 6))
    values[0] = 0.0  # nothing invested
    categories = rng.integers(0, 5, size=500)
    flags, drift = drift_check(values, categories, targets)
    assert not flags[0]
    for i in range(1, 500):
        w = values[i] / values[i].sum()
        t = targets[categories[i]]
        expected = any(abs(a - b) > min(0.05, 0.25 * b) + 1e-12 for a, b in zip(w, t, strict=True))
        assert flags[i] == expected
        assert drift[i] == pytest.approx(np.abs(w - t).max())


def test_proposal_and_nightly_check_on_real_holdings(
    service: AdvisoryService, clock: ManualClock, small_models: ModelReport
) -> None:
    clock.set(dt.datetime(2017, 6, 1, 2, 0, tzinfo=dt.UTC))
    service.use_models(small_models)
    customer = new_customer(service)
    service.submit_profile(SYSTEM, customer, BALANCED)  # C3
    account = service.banking.open_account(SYSTEM, customer, kind="current", currency_code="USD")
    service.banking.deposit(SYSTEM, account.id, usd("5000"), idempotency_key="d")
    me = Principal.customer(customer)
    service.subscribe(me, customer, account_id=account.id, product_code="AGG",
                      amount=usd("3000"), idempotency_key="all-in-agg")  # fmt: skip
    clock.advance(dt.timedelta(days=1))
    service.settle_due(SYSTEM)
    proposal = service.rebalance_proposal(me, customer, new_cash=usd("1000"))
    assert "AGG" in proposal.out_of_band  # one bond fund instead of the C3 model
    assert any(t.side == "sell" and t.product_code == "AGG" for t in proposal.trades)
    assert all(t.reason for t in proposal.trades)
    assert set(proposal.target) >= set(small_models.model("C3").weights)
    assert service.nightly_drift(SYSTEM) == [(customer, pytest.approx(max(
        abs(proposal.weights[c] - proposal.target[c]) for c in proposal.target)))]  # fmt: skip
    with pytest.raises(PermissionDenied):
        service.nightly_drift(me)
    clock.advance(dt.timedelta(days=366))  # the profile expires: the customer leaves the check
    assert service.nightly_drift(SYSTEM) == []
    service.submit_profile(SYSTEM, customer, BALANCED)  # the newest profile, live again
    assert [c for c, _ in service.nightly_drift(SYSTEM)] == [customer]


def test_accepting_a_rebalance_matches_the_model_and_places_the_trades(
    service: AdvisoryService, clock: ManualClock, small_models: ModelReport
) -> None:
    clock.set(dt.datetime(2017, 6, 1, 2, 0, tzinfo=dt.UTC))
    service.use_models(small_models)
    customer = new_customer(service)
    service.submit_profile(SYSTEM, customer, BALANCED)  # C3
    account = service.banking.open_account(SYSTEM, customer, kind="current", currency_code="USD")
    service.banking.deposit(SYSTEM, account.id, usd("9000"), idempotency_key="d")
    me = Principal.customer(customer)
    service.subscribe(me, customer, account_id=account.id, product_code="AGG",
                      amount=usd("3000"), idempotency_key="agg")  # fmt: skip
    clock.advance(dt.timedelta(days=1))
    service.settle_due(SYSTEM)
    too_much = service.banking.balance(SYSTEM, account.id).available + usd("1")
    with pytest.raises(ValidationError) as info:
        service.accept_rebalance(me, customer, account_id=account.id, new_cash=too_much,
                                 idempotency_key="r0")  # fmt: skip
    assert (
        info.value.field == "account_id" and service.orders(me, customer)[0].product_code == "AGG"
    )
    orders = service.accept_rebalance(me, customer, account_id=account.id, new_cash=usd("1000"),
                                      idempotency_key="r1")  # fmt: skip
    sides = {(o.side, o.product_code) for o in orders}
    assert ("redeem", "AGG") in sides and any(side == "subscribe" for side, _ in sides)
    # the C3 model holds funds above R3 one by one; the portfolio as a whole is what matched
    [model_match] = service.evidence(me, product_code="MODEL-C3")
    assert model_match.allowed and model_match.product_level == small_models.model(
        "C3").metrics.risk_level  # fmt: skip
    bought = [o for o in orders if o.side == "subscribe"]
    assert all(o.suitability_id == model_match.id for o in bought)
    again = service.accept_rebalance(me, customer, account_id=account.id, new_cash=usd("1000"),
                                     idempotency_key="r1")  # fmt: skip
    assert [o.id for o in again] == [o.id for o in orders]

"""The portfolio simulation (issue 14's figures): the fitted behaviour model, the month-by-month
engine under the catalogue's product terms, and the operator service with its cache."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine

from finbridge.banking import BankingService
from finbridge.core import ManualClock, Principal, Role
from finbridge.core.errors import NotFound, PermissionDenied, ValidationError
from finbridge.lending import LendingService, ProductTerms, SimulationParams
from finbridge.lending.cob._steps import minimum_due as minimum_due_of_one_line
from finbridge.lending.products import shipped_catalogue
from finbridge.lending.simulation import (
    STATES,
    Clients,
    PortfolioSimulations,
    RepaymentModel,
    Spending,
    fit_repayment_model,
    load_clients,
    load_spending,
    minimum_due,
    simulate,
    status_state,
)

NOW = datetime(2026, 1, 6, 2, 0, tzinfo=UTC)
SMALL = SimulationParams(customers=400, months=9, seed=7, cohorts=3)


@pytest.fixture(scope="module")
def terms() -> ProductTerms:
    return shipped_catalogue()[0][0]


@pytest.fixture(scope="module")
def clients() -> Clients:
    return load_clients()


@pytest.fixture(scope="module")
def spending() -> Spending:
    return load_spending()


@pytest.fixture(scope="module")
def model(clients: Clients) -> RepaymentModel:
    return fit_repayment_model(clients.status)


def _fixed(state: int) -> RepaymentModel:
    """A planted chain: every customer goes to ``state`` every month."""
    matrix = np.zeros((len(STATES), len(STATES)))
    matrix[:, state] = 1.0
    return RepaymentModel(np.zeros_like(matrix, dtype=np.int64), matrix, 0.5)


# -- the behaviour model -------------------------------------------------------------------


def test_the_transition_matrix_is_counted_from_the_columns_and_smoothed() -> None:
    # Two customers, oldest month first: full, full, minimum / 2 late, minimum, full.
    status = np.array([[-1, -2, 0], [2, 0, -1]])
    fitted = fit_repayment_model(status, alpha=0.5)
    assert fitted.transitions == 4
    expected = np.zeros((8, 8), dtype=np.int64)
    expected[0, 0] = expected[0, 1] = expected[3, 1] = expected[1, 0] = 1
    assert (fitted.counts == expected).all()
    np.testing.assert_allclose(fitted.matrix.sum(axis=1), 1.0)
    assert fitted.matrix[0, 0] == pytest.approx(1.5 / (2 + 8 * 0.5))
    assert fitted.matrix[5, 2] == pytest.approx(1 / 8)  # never seen: the prior alone


def test_the_fitted_matrix_comes_from_the_taiwan_data_and_moves_with_it(
    clients: Clients, model: RepaymentModel
) -> None:
    np.testing.assert_allclose(model.matrix.sum(axis=1), 1.0)
    assert model.transitions == len(clients.ids) * 5  # PAY_6 -> ... -> PAY_0
    # Most customers who pay in full keep doing so; most who are 6+ months late stay there.
    assert model.matrix[0, 0] > 0.8 and model.matrix[7, 7] > 0.5
    planted = clients.status.copy()
    minimum_before = planted[:, -2] == 0
    planted[minimum_before, -1] = 3  # every "minimum" in PAY_2 becomes 3 months late in PAY_0
    moved = fit_repayment_model(planted)
    newly_late = int((minimum_before & (clients.status[:, -1] != 3)).sum())
    assert moved.counts[1, 4] == model.counts[1, 4] + newly_late > 0
    assert moved.matrix[1, 4] > model.matrix[1, 4] + 0.05


@pytest.mark.parametrize(
    ("status", "field"), [(np.array([[0], [1]]), "pay_status"), (np.array([[0, -3]]), "pay_status")]
)
def test_bad_repayment_status_is_refused(status: np.ndarray, field: str) -> None:
    with pytest.raises(ValidationError, match="repayment status") as err:
        fit_repayment_model(status)
    assert err.value.field == field


def test_status_states() -> None:
    got = status_state(np.array([-2, -1, 0, 1, 2, 5, 6, 8]))
    assert [STATES[i] for i in got] == [
        "full", "full", "minimum", "late1", "late2", "late5", "late6+", "late6+",
    ]  # fmt: skip


# -- the engine ----------------------------------------------------------------------------


def test_a_seed_gives_the_same_run_and_another_seed_another(
    terms: ProductTerms, clients: Clients, spending: Spending, model: RepaymentModel
) -> None:
    def figures(params: SimulationParams) -> dict[str, object]:
        data = simulate(terms, clients, spending, model, params, now=NOW).result.to_json()
        data.pop("seconds")
        return data

    assert figures(SMALL) == figures(SMALL)
    assert figures(SMALL) != figures(dataclasses.replace(SMALL, seed=8))


def test_money_is_conserved_per_customer(
    terms: ProductTerms, clients: Clients, spending: Spending, model: RepaymentModel
) -> None:
    run = simulate(terms, clients, spending, model, SMALL, now=NOW)
    c = run.customers
    assert (c.spend + c.interest + c.fees - c.payments - c.charge_offs == c.balance).all()
    assert (c.balance >= 0).all() and (c.payments >= 0).all()
    r = run.result
    assert r.total("spend").minor == int(c.spend.sum()) > 0
    assert r.total("interest").minor == int(c.interest.sum()) > 0
    assert r.total("charge_offs").minor == int(c.charge_offs.sum())
    assert r.months[-1].balance_minor == int(c.balance.sum())
    # No line owes more than its limit plus what the bank itself charged (spending stops at
    # the available limit).
    for month in r.months:
        assert 0 <= month.utilisation < 1.5
        assert sum(month.buckets) == month.open_lines
    assert r.total("spend").currency.code == terms.currency


def test_paying_in_full_every_month_pays_no_interest_and_no_fees(
    terms: ProductTerms, clients: Clients, spending: Spending
) -> None:
    run = simulate(terms, clients, spending, _fixed(0), SMALL, now=NOW)
    c = run.customers
    assert c.interest.sum() == 0 and c.fees.sum() == 0 and c.charge_offs.sum() == 0
    # What is owed at the end is exactly the last month's spending (the rest was paid).
    assert run.result.months[-1].balance_minor == run.result.months[-1].spend_minor
    assert all(rr.rolled == 0 for rr in run.result.roll_rates)


def test_never_paying_rolls_every_bucket_to_charge_off_with_late_fees(
    terms: ProductTerms, clients: Clients, spending: Spending
) -> None:
    params = dataclasses.replace(SMALL, months=12, cohorts=1)
    run = simulate(terms, clients, spending, _fixed(7), params, now=NOW)
    r, c = run.result, run.customers
    # Statement at the end of month 0, then six missed due dates: charged off in month 6
    # (charge_off_dpd 180 = 6 months behind) before that month's charges are billed, so the
    # five missed due dates before it each billed the late fee.
    off = c.charge_offs > 0
    per_month = [m.charged_off_lines for m in r.months]
    assert per_month[:6] == [0] * 6 and sum(per_month) == int(off.sum())
    assert per_month[6] >= 0.95 * params.customers  # all who spent in the first month
    assert (c.fees[off] == 5 * terms.late_fee.minor).all()
    assert (c.payments == 0).all() and (c.balance[off] == 0).all()
    assert (c.charge_offs[off] == (c.spend + c.interest + c.fees)[off]).all()
    assert [rr.rate for rr in r.roll_rates] == [1.0] * len(r.roll_rates)
    assert r.roll_rates[-1].target == "charged off"
    assert r.vintages[0].charged_off[6] == pytest.approx(per_month[6] / params.customers)


def test_the_minimum_due_is_the_close_of_business_rule(terms: ProductTerms) -> None:
    rng = np.random.default_rng(3)
    closing = np.concatenate([[0, 1, 4_999, 5_000, 5_005, 5_015], rng.integers(0, 10**7, 300)])
    billed = np.minimum(closing, rng.integers(0, 20_000, len(closing)))
    vector = minimum_due(closing, billed, terms)
    one_by_one = [
        minimum_due_of_one_line(int(a), int(b), terms.to_json(), terms.currency)
        for a, b in zip(closing, billed, strict=True)
    ]
    assert vector.tolist() == one_by_one


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"customers": 0}, "customers"),
        ({"customers": 30_001}, "customers"),
        ({"months": 0}, "months"),
        ({"cohorts": 13}, "cohorts"),
        ({"seed": -1}, "seed"),
        ({"fx": Decimal(0)}, "fx"),
        ({"product_id": " "}, "product_id"),
    ],
)
def test_bad_parameters_are_refused_naming_the_field(change: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError, match=field) as err:
        dataclasses.replace(SimulationParams(), **change)  # type: ignore[arg-type]
    assert err.value.field == field


def test_parameters_from_a_form() -> None:
    assert SimulationParams.parse({"customers": "500", "months": "6"}).customers == 500
    with pytest.raises(ValidationError) as err:
        SimulationParams.parse({"months": "twelve"})
    assert err.value.field == "months"


# -- the service ---------------------------------------------------------------------------


def test_operators_run_it_on_the_catalogued_product_and_the_run_is_cached(
    engine: Engine, tmp_path: Path
) -> None:
    clock = ManualClock(NOW)
    lending = LendingService(engine, clock, BankingService(engine, clock))
    lending.install_catalogue(Principal.system("test"))
    sims = PortfolioSimulations(lending, clock, tmp_path / "sims")
    officer = Principal.operator("officer", [Role.CREDIT_OFFICER])
    with pytest.raises(NotFound, match="no portfolio simulation"):
        sims.latest(officer)
    params = SimulationParams(customers=200, months=4, cohorts=2)
    first = sims.run(officer, params)
    assert first.product == lending.product(officer, "everyday@1").to_json()
    assert sims.latest(officer) == first
    cached = list((tmp_path / "sims").glob("*.json"))
    assert len(cached) == 2  # the run's own file and the latest
    clock.advance(timedelta(seconds=60))
    assert sims.run(officer, params).created_at == first.created_at  # from the cache
    assert json.loads((tmp_path / "sims" / "latest.json").read_text())["params"]["customers"] == 200
    with pytest.raises(NotFound) as err:
        sims.run(officer, dataclasses.replace(params, product_id="nosuch@1"))
    assert err.value.field == "product_id"
    with pytest.raises(PermissionDenied):
        sims.run(Principal.customer("c1"), params)
    with pytest.raises(PermissionDenied):
        sims.latest(Principal.operator("teller", [Role.TELLER]))

"""The turnover limit on model portfolio refits: measured in the walk-forward, data, checked."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pydantic
import pytest

from finbridge.advisory.catalogue import load_prices
from finbridge.advisory.portfolios import SPECS, ModelReport, build_models, walk_forward
from finbridge.advisory.report import render_report
from finbridge.advisory.turnover import check_max_turnover, partial_move
from finbridge.core.errors import ValidationError
from finbridge.core.settings import AdvisorySettings

TIGHT = 0.05


def test_a_tight_limit_caps_the_measured_turnover_of_every_refit(
    small_models: ModelReport,
) -> None:
    """2008-04..2009-06 out of sample, every model held to 5% one-way per rebalance: each
    rebalance after the first build trades at most that (measured by the walk-forward, not
    asked of the optimiser), the cap binds for every model that traded more without it, and
    only a rule the drift had broken (C3's growth band in the crash) may take more."""
    prices = load_prices()
    days = prices.dates[1:]
    window = slice(0, days.index(dt.date(2009, 6, 30)) + 1)
    for spec in SPECS:
        capped = walk_forward(spec, prices, window, TIGHT)
        free = small_models.model(spec.category).turnovers[: len(capped.turnovers)]
        assert capped.max_turnover == TIGHT and capped.turnovers[0] == pytest.approx(1.0)
        for i, traded in enumerate(capped.turnovers[1:], start=1):
            if i not in capped.over_limit:
                assert traded <= TIGHT + 1e-6, (spec.category, i, traded)
        assert sum(capped.weights.values()) == pytest.approx(1.0, abs=1e-6)
        if spec.category == "C3":  # in this window only the broken growth band moved it more
            assert set(capped.over_limit) == {
                i for i, t in enumerate(capped.turnovers[1:], 1) if t > TIGHT + 1e-6
            }
            continue
        # skfolio falls back on any failure: the mean-risk and HRP models must not need it
        assert capped.over_limit == (), spec.category
        if max(free[1:]) > TIGHT + 1e-3:  # the limit had something to cut: it bound
            assert any(abs(t - TIGHT) < 1e-3 for t in capped.turnovers[1:]), spec.category
            assert capped.turnovers != pytest.approx(free)


def test_the_default_limit_keeps_the_models_ordered_and_is_reported(
    small_models: ModelReport,
) -> None:
    assert small_models.max_turnover == AdvisorySettings().max_turnover == 0.5
    assert small_models.risk_ordered()
    for model in small_models.models:
        kept = [t for i, t in enumerate(model.turnovers[1:], 1) if i not in model.over_limit]
        assert max(kept, default=0.0) <= 0.5 + 1e-6
    page = render_report(small_models)
    assert 'id="turnover-limit"' in page and "at most 50% one-way" in page
    assert "largest rebalance" in page


@pytest.mark.parametrize("bad", [-0.1, 0, 2.5, float("nan"), "0.5", True])
def test_a_bad_limit_is_a_clear_error(bad: object) -> None:
    with pytest.raises(ValidationError, match=r"one-way turnover|must be a number") as info:
        build_models(end=dt.date(2009, 6, 30), max_turnover=bad)  # type: ignore[arg-type]
    assert info.value.field == "max_turnover"


@pytest.mark.parametrize("bad", [-0.1, 0, 2.01])
def test_a_bad_limit_in_the_settings_is_refused(bad: float) -> None:
    with pytest.raises(pydantic.ValidationError, match="max_turnover"):
        AdvisorySettings(max_turnover=bad)
    assert AdvisorySettings(max_turnover=None).max_turnover is None
    assert check_max_turnover(2) == 2.0


def test_partial_move_by_hand() -> None:
    drifted = np.array([0.5, 0.3, 0.2])
    target = np.array([0.2, 0.4, 0.4])  # sum |gap| = 0.6
    moved, raised = partial_move(drifted, target, 0.3)
    np.testing.assert_allclose(moved, [0.35, 0.35, 0.3])  # half of the way
    assert np.abs(moved - drifted).sum() == pytest.approx(0.3) and not raised
    # a fund above its bound is brought down to it even past the limit: rules come first
    moved, raised = partial_move(drifted, target, 0.3, max_weights=0.3)
    np.testing.assert_allclose(moved, [0.3, 0.3667, 0.3333], atol=1e-4)
    assert raised and moved.sum() == pytest.approx(1.0)
    # within the limit it goes the whole way
    moved, raised = partial_move(drifted, target, 1.0)
    np.testing.assert_allclose(moved, target)

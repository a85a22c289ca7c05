"""Send time: slots, shrinkage, blocks and the point-in-time rule."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from finbridge.acquisition import sendtime
from finbridge.acquisition.sendtime import Engagement, score_send_times, shrunk, slot_of
from finbridge.core.errors import ValidationError


def _local(y: int, m: int, d: int, hh: int, mm: int) -> int:
    # "local wall time as if UTC", as the scorer expects
    return int(datetime(y, m, d, hh, mm, tzinfo=UTC).timestamp())


def test_slot_of_is_monday_based_hour_of_week() -> None:
    assert slot_of(np.array([_local(2020, 11, 30, 0, 5)]))[0] == 0  # a Monday
    assert slot_of(np.array([_local(2020, 12, 3, 7, 40)]))[0] == 3 * 24 + 7  # Thursday 07:40
    assert slot_of(np.array([_local(2020, 12, 6, 23, 59)]))[0] == 167  # Sunday night


def test_two_mornings_predict_the_third_and_new_customers_get_the_prior() -> None:
    reads = [_local(2020, 12, 1, 7, 40), _local(2020, 12, 1, 7, 55), _local(2020, 12, 2, 7, 40)]
    # customer 0 reads in the morning; customers 1-3 (the population) open the app at 21:00
    evening = [_local(2020, 11, 20 + k, 21, 0) for k in range(6)]
    cust = np.array([0, 0, 0] + [1 + k % 3 for k in range(6)])
    ts = np.array(reads + evening)
    events = Engagement(cust, ts, np.ones(len(ts)))
    as_of = _local(2020, 12, 2, 20, 0)
    result = score_send_times(events, 5, as_of)
    matrix = sendtime.slot_matrix(cust, slot_of(ts), sendtime.decayed_weights(events, as_of), 5)
    prior = sendtime.population_prior(matrix.sum(axis=0))
    week = shrunk(matrix.astype(np.float64), prior)
    thursday = 3
    assert sendtime.best_hour_on(week[0], thursday) == 7
    assert result.best_slot[4] % 24 == 21  # no events: the population's evening habit
    assert result.observed[4] == 0 and result.observed[0] > 0
    assert np.allclose(week.sum(axis=1), 1.0, atol=1e-5)


def test_future_events_do_not_count() -> None:
    ts = np.array([_local(2020, 12, 5, 9, 0)])
    events = Engagement(np.array([0]), ts, np.ones(1))
    assert sendtime.decayed_weights(events, _local(2020, 12, 4, 0, 0))[0] == 0


def test_blocks_give_the_same_answer_as_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(7)
    n, m = 2_500, 40_000
    events = Engagement(
        rng.integers(0, n, m),
        _local(2020, 12, 1, 0, 0) - rng.integers(0, 60 * 86_400, m),
        rng.choice([1.0, 1.5, 2.0], m),
    )
    as_of = _local(2020, 12, 1, 0, 0)
    whole = score_send_times(events, n, as_of)
    monkeypatch.setattr(sendtime, "_BLOCK", 333)
    blocks = score_send_times(events, n, as_of)
    assert (whole.best_slot == blocks.best_slot).all()
    assert np.allclose(whole.confidence, blocks.confidence)


def test_bad_indices_are_refused() -> None:
    with pytest.raises(ValidationError, match="out of range"):
        score_send_times(Engagement(np.array([3]), np.array([0]), np.ones(1)), 2, 10)
    with pytest.raises(ValidationError, match="length"):
        Engagement(np.array([0, 1]), np.array([0]), np.ones(1))


def test_one_day_of_the_shrunk_profile_equals_the_slice_of_the_week() -> None:
    rng = np.random.default_rng(3)
    matrix = rng.random((50, 168)) * (rng.random((50, 168)) < 0.1)
    prior = sendtime.population_prior(matrix.sum(axis=0))
    week = shrunk(matrix, prior)
    for weekday in range(7):
        day = sendtime.shrunk_day(matrix, prior, weekday)
        assert np.allclose(day, week[:, weekday * 24 : weekday * 24 + 24])

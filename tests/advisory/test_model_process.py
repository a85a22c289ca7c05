"""The served process builds the model portfolios in a spawned child (its own GIL) and gets the
report back pickled over a pipe; the child's error comes back as itself.

A full build in a child costs tens of seconds of CI, so the child is asked for a window too
short to build (it imports and runs the real ``build_models``, then sends the error back), and
the report's round trip through pickle is checked on the session's small models."""

from __future__ import annotations

import datetime as dt
import pickle

import pytest

from finbridge.advisory import ModelReport
from finbridge.advisory._model_process import build_in_child
from finbridge.core.errors import ValidationError


# Slow: the spawned child imports the whole advisory stack (skfolio, its solvers) before it
# refuses the window.
@pytest.mark.slow
def test_the_childs_error_is_raised_here() -> None:
    with pytest.raises(ValidationError) as info:
        build_in_child(0.5, end=dt.date(2007, 12, 31))
    assert info.value.field == "window"


def test_a_report_survives_the_pipe(small_models: ModelReport) -> None:
    back = pickle.loads(pickle.dumps(small_models))
    assert [m.weights for m in back.models] == [m.weights for m in small_models.models]
    assert [m.metrics for m in back.models] == [m.metrics for m in small_models.models]
    assert back.model("C3").returns.tolist() == small_models.model("C3").returns.tolist()

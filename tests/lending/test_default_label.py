"""The credit models' default label: a line reaching 90 days past due is one
``lending.default_label`` event, known at the close of business that saw it, once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from tests.lending.conftest import OPS, World
from tests.lending.test_worked_examples import _first_statement

from finbridge.lake.tables import OutboxRow
from finbridge.store import unit_of_work


def _labels(world: World) -> list[OutboxRow]:
    with unit_of_work(world.engine, write=False) as s:
        query = select(OutboxRow).where(OutboxRow.event_type == "lending.default_label")
        return list(s.scalars(query).all())


@pytest.mark.slow  # walks more than ninety closes of business (14-47 s)
def test_ninety_days_past_due_is_one_default_label(world: World) -> None:
    line_id, due = _first_statement(world)
    world.close_until(due + timedelta(days=89))
    assert world.svc.line(OPS, line_id).dpd == 89 and _labels(world) == []
    world.close_until(due + timedelta(days=120))
    [label] = _labels(world)
    line = world.svc.line(OPS, line_id)
    assert label.payload == {
        "line_id": line_id, "customer_id": line.customer_id, "dpd": 90, "label": "default",
        "business_date": (due + timedelta(days=90)).isoformat(),
    }  # fmt: skip
    assert label.subject_id == line.customer_id

"""lake_0005: the outbox keeps its rows and its order with two b-trees instead of three."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import IntegrityError
from tests.migration_support import alembic

from finbridge.core import ManualClock
from finbridge.lake import EventLake, OutboxRelay
from finbridge.platform import upgrade_database

from .conftest import T0

_COLUMNS = (
    "seq, event_id, event_type, schema_version, occurred_at, subject_id, source, payload,"
    " published_at, refused_reason"
)
_INSERT = text(
    f"INSERT INTO lake_outbox ({_COLUMNS}) VALUES (:seq, :event_id, 'login', :version,"
    " :at, 'c1', 'test', :payload, :published, :refused)"
)
_PAYLOAD = '{"method": "totp", "success": true}'


def _rows(engine: Engine) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return [
            tuple(r) for r in conn.execute(text(f"SELECT {_COLUMNS} FROM lake_outbox ORDER BY seq"))
        ]


def _unpublished_index(engine: Engine) -> dict[str, object]:
    [index] = [i for i in inspect(engine).get_indexes("lake_outbox")
               if i["name"] == "ix_lake_outbox_unpublished"]  # fmt: skip
    return dict(index)


def test_the_outbox_keeps_every_row_and_the_relay_its_order(
    engine: Engine, lake: EventLake, clock: ManualClock
) -> None:
    alembic(engine, "downgrade", "lake_0004_stream")
    try:
        with engine.begin() as conn:
            for seq, published, refused, version in [
                (3, T0, None, 1),  # published: stays until purged
                (5, None, None, 1),  # waiting for the relay
                (7, None, "no schema for login v9", 9),  # refused: kept, never published
                (11, None, None, 1),
            ]:
                conn.execute(_INSERT, {
                    "seq": seq, "event_id": f"00000000-0000-7000-8000-{seq:012d}",
                    "version": version, "at": T0, "payload": _PAYLOAD,
                    "published": published, "refused": refused,
                })  # fmt: skip
        before = _rows(engine)
        alembic(engine, "upgrade", "heads")
    finally:
        upgrade_database(engine)
    assert _rows(engine) == before
    assert _unpublished_index(engine)["column_names"] == ["seq"]

    # The sequence key still holds (SQLite rebuilt the table around it).
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(_INSERT, {
            "seq": 5, "event_id": "00000000-0000-7000-8000-000000000099", "version": 1,
            "at": T0, "payload": _PAYLOAD, "published": None, "refused": None,
        })  # fmt: skip
    relay = OutboxRelay(engine, lake, clock=clock, batch_size=1)
    assert relay.pending() == 2
    assert [r[0] for r in relay.refused_rows()] == ["00000000-0000-7000-8000-000000000007"]
    assert relay.run_once() == 1  # the lowest waiting seq first
    assert [e.event_id[-2:] for e in lake.events()] == ["05"]
    assert relay.drain().published == 1
    assert relay.pending() == 0
    assert relay.purge_published(timedelta(hours=1)) == 1  # the row published at T0

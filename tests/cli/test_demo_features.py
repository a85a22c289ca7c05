"""The demo materialises the card_spend view from its replayed card payments, once."""

from __future__ import annotations

from sqlalchemy import Engine

from finbridge.cli.demo_data import load_demo_data
from finbridge.cli.demo_features import seed_features
from finbridge.core import ManualClock, Settings
from finbridge.platform import Platform


def test_the_demo_materialises_card_spend_once(
    settings: Settings, sqlite_engine: Engine, clock: ManualClock
) -> None:
    platform = Platform(settings, sqlite_engine, clock)
    load_demo_data(platform, limit=20, relay=False)  # the payments still in the outbox
    said: list[str] = []
    first = seed_features(platform, said.append)
    assert first is not None and "20 customers" in first and said
    again = seed_features(platform, said.append)
    assert again is not None and again.startswith("card_spend: ") and len(said) == 1
    platform.close()

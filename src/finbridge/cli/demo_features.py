"""The demo's feature store: the ``card_spend`` view materialised from the replayed card
payments, so the console's feature page shows rows, entities and freshness."""

from __future__ import annotations

from collections.abc import Callable

from finbridge.core.principal import Principal
from finbridge.platform import Platform

_ACTOR = Principal.system("demo")


def seed_features(platform: Platform, say: Callable[[str], None]) -> str | None:
    features = platform.features
    done = [s for s in features.status(_ACTOR) if s.view.name == "card_spend" and s.last]
    if done and done[0].last is not None:
        return f"card_spend: {done[0].last.rows:,} rows"
    # The card payments may still be in the outbox (a serving demo relays after seeding).
    platform.events.relay(_ACTOR)
    say("materialising the card_spend feature view from the lake")
    made = features.materialize(_ACTOR, "card_spend")
    return f"card_spend: {made.rows:,} rows, {made.entities:,} customers"

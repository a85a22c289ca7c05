"""Home cards: each engine's tile on the app's home screen.

A card is a function ``(platform, principal) -> dict | None`` (None: nothing to show this
customer, e.g. no credit line) and the template that renders its dict. The home page calls
every card listed in :data:`finbridge.app.mount.HOME_CARDS`; one failing card is logged and left
out, never taking the home screen down with it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from finbridge.core.principal import Principal
from finbridge.platform import Platform

log = logging.getLogger(__name__)

CardLoader = Callable[[Platform, Principal], Mapping[str, Any] | None]


@dataclass(frozen=True, slots=True)
class HomeCard:
    """``name``: a stable id (also the card's HTML id); ``template``: rendered with ``card``."""

    name: str
    template: str
    load: CardLoader
    order: int = 100


@dataclass(frozen=True, slots=True)
class LoadedCard:
    name: str
    template: str
    data: Mapping[str, Any]


def load_cards(
    cards: Sequence[HomeCard], platform: Platform, principal: Principal
) -> list[LoadedCard]:
    loaded: list[LoadedCard] = []
    for card in sorted(cards, key=lambda c: c.order):
        try:
            data = card.load(platform, principal)
        except Exception:  # one engine's failure must not empty the customer's home screen
            log.exception("home card %s failed", card.name)
            continue
        if data is not None:
            loaded.append(LoadedCard(card.name, card.template, data))
    return loaded

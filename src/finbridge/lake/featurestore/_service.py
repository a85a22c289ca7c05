"""The feature store's authorised face for interfaces (``platform.features``).

Operators with ``events:read`` see the views, their materialisations and online values (feature
values are aggregates of customers' events: never for customers or partners); materialising
needs ``events:admin``. Engines train from :attr:`FeatureService.store` directly (no actor:
they run as the bank).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from finbridge.core.clock import Clock
from finbridge.core.errors import PermissionDenied
from finbridge.core.principal import Principal, PrincipalKind
from finbridge.lake.eventlake import EventLake
from finbridge.lake.featurestore._definitions import FeatureView
from finbridge.lake.featurestore._online import (
    MemoryOnlineStore,
    OnlineStore,
    RedisOnlineStore,
    Row,
)
from finbridge.lake.featurestore._quality import check_materialisation
from finbridge.lake.featurestore._store import (
    FeatureRegistry,
    FeatureStore,
    FrameCheck,
    Materialisation,
    ViewStatus,
)
from finbridge.lake.featurestore._views import card_spend_view, spend_profile_view

# Views over the lake's events (the ones ``materialize`` can run without another input).
LAKE_VIEWS = frozenset({"card_spend"})


class FeatureService:
    def __init__(self, store: FeatureStore, lake: EventLake) -> None:
        self.store = store
        self.lake = lake

    @classmethod
    def build(
        cls,
        lake: EventLake,
        root: Path,
        clock: Clock,
        *,
        currency: str,
        redis_url: str | None = None,
        check: FrameCheck | None = check_materialisation,
        views: Sequence[FeatureView] = (),
    ) -> FeatureService:
        """The shipped views and the engines' ``views`` (the platform passes the fraud
        model's); online in Redis when ``redis_url`` is given, else in-process."""
        online: OnlineStore = RedisOnlineStore(redis_url) if redis_url else MemoryOnlineStore()
        registry = FeatureRegistry([card_spend_view(currency), spend_profile_view(), *views])
        return cls(FeatureStore(registry, root, online=online, clock=clock, check=check), lake)

    @staticmethod
    def _operator(actor: Principal, scope: str) -> None:
        if actor.kind not in (PrincipalKind.OPERATOR, PrincipalKind.SYSTEM):
            raise PermissionDenied("feature views are for operators")
        actor.require_scope(scope)

    def status(self, actor: Principal) -> list[ViewStatus]:
        self._operator(actor, "events:read")
        return self.store.status()

    def materialize(
        self, actor: Principal, name: str, *, until: datetime | None = None
    ) -> Materialisation:
        """Run a lake view (``card_spend``) over the lake's events up to ``until`` (now)."""
        self._operator(actor, "events:admin")
        from finbridge.core.errors import ValidationError
        from finbridge.lake.features import duckdb_events

        view = self.store.registry.get(name)
        if view.name not in LAKE_VIEWS:
            raise ValidationError(
                f"feature view {view.name} reads {view.tags.get('source', 'another table')}, "
                "not the lake's events: materialise it from its engine",
                field="view",
            )
        return self.store.materialize(view.name, duckdb_events(self.lake), until=until)

    def online(
        self, actor: Principal, name: str, entity_ids: Sequence[str], *, strict: bool = True
    ) -> list[Row | None]:
        self._operator(actor, "events:read")
        view = self.store.registry.get(name)
        online = self.store.online
        if isinstance(online, MemoryOnlineStore) and not online.holds(view.ref):
            self.store.load_online(view.name)  # this process has not materialised it yet
        return self.store.online_features(name, entity_ids, strict=strict)

"""Engine services built once per platform for the interfaces (API routes, console pages).

Services are cached in ``platform.state`` so per-instance caches (the banking service's internal
account ids) survive across requests. Every posting goes through the risk engine and identity's
step-up (``default_posting_guard``) unless another guard was put in
``platform.state["banking.guard"]`` before the first request.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from finbridge.banking import BankingService
from finbridge.banking.guard import GuardDecision, PostingGuard, PostingIntent
from finbridge.core.principal import Principal
from finbridge.identity.guard import StepUpGuard
from finbridge.identity.services import IdentityServices
from finbridge.identity.vault import install_log_masking
from finbridge.lake import EventLake, EventService
from finbridge.platform import Platform
from finbridge.risk.guard import RiskGuard
from finbridge.risk.setup import risk_engine_for


class _LazyGuard:
    """Builds the real guard on the first posting, so reads never pay for loading the model."""

    def __init__(self, build: Callable[[], PostingGuard]) -> None:
        self._build = build
        self._guard: PostingGuard | None = None
        self._lock = threading.Lock()

    def check(self, intent: PostingIntent) -> GuardDecision:
        if self._guard is None:
            with self._lock:
                if self._guard is None:
                    self._guard = self._build()
        return self._guard.check(intent)


def default_posting_guard(platform: Platform) -> PostingGuard:
    """Risk decides every posting; identity turns its step-up into a fresh second factor.

    Identity wraps risk (not the reverse) so a step-up is only ever satisfied by server-side
    session state, never by anything the client claims.
    """

    def build() -> PostingGuard:
        risk = risk_engine_for(platform.state, platform.engine, platform.clock, platform.settings)
        return StepUpGuard(identity_services(platform).step_up, inner=RiskGuard(risk))

    return _LazyGuard(build)


def banking_service(platform: Platform) -> BankingService:
    service = platform.state.get("banking")
    if service is None:
        guard = platform.state.get("banking.guard")
        if guard is None:
            guard = platform.state["banking.guard"] = default_posting_guard(platform)
        service = BankingService(
            platform.engine,
            platform.clock,
            guard=guard,
            business_timezone=platform.settings.business_timezone,
        )
        platform.state["banking"] = service
    return service  # type: ignore[no-any-return]


def identity_services(platform: Platform) -> IdentityServices:
    """Identity's services; registration creates the banking customer (masked name only)."""
    services = platform.state.get("identity")
    if services is None:
        install_log_masking()  # access logs carry URLs; no mobile or ID number may reach them

        def create_customer(display_name: str) -> str:
            actor = Principal.system("identity")
            return (
                banking_service(platform)
                .create_customer(actor, kind="personal", display_name=display_name)
                .id
            )

        services = IdentityServices.build(
            platform.engine, platform.clock, platform.settings, customer_factory=create_customer
        )
        platform.state["identity"] = services
    return services  # type: ignore[no-any-return]


def events_service(platform: Platform) -> EventService:
    """The event lake's service (ingestion with the settings' upload limit, reads, relay)."""
    service = platform.state.get("lake.events")
    if service is None:
        service = EventService(
            platform.engine,
            EventLake(platform.lake_dir),
            platform.clock,
            max_upload_bytes=platform.settings.max_upload_bytes,
        )
        platform.state["lake.events"] = service
    return service  # type: ignore[no-any-return]

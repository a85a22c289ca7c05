"""Engine services built once per platform for the interfaces (API routes, console pages).

Services are cached in ``platform.state`` so per-instance caches (the banking service's internal
account ids) survive across requests. Other engines can plug in: a posting guard registered in
``platform.state["banking.guard"]`` before the first request is used by the banking service.
"""

from __future__ import annotations

from finbridge.banking import BankingService
from finbridge.core.principal import Principal
from finbridge.identity.services import IdentityServices
from finbridge.identity.vault import install_log_masking
from finbridge.lake import EventLake, EventService
from finbridge.platform import Platform


def banking_service(platform: Platform) -> BankingService:
    service = platform.state.get("banking")
    if service is None:
        service = BankingService(
            platform.engine,
            platform.clock,
            guard=platform.state.get("banking.guard"),
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

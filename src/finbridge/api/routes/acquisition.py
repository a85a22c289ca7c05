"""``/v1/acquisition``: profiles, offers, creatives, campaigns, deliveries and the inbox.

Thin: each route is one call on ``platform.acquisition``, which authorises (operators by
``acquisition:read|write``, customers for their own profile, offers and inbox) and checks consent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from finbridge.acquisition import push_of
from finbridge.api.deps import PlatformDep, PrincipalDep
from finbridge.api.schemas.acquisition import (
    AudienceCreate,
    AudiencePublic,
    CampaignCreate,
    CampaignPublic,
    ConversionCreate,
    ConversionPublic,
    CreativeCreate,
    CreativePublic,
    DeliveryPublic,
    DeliveryRunPublic,
    ModelVersionPublic,
    OfferPublic,
    OptOutCreate,
    PreviewCreate,
    PreviewPublic,
    ProfilePublic,
    PushPublic,
    RefreshCreate,
    RefreshPublic,
    ResultsPublic,
    ScheduleCreate,
    SchedulePublic,
    TimezonePublic,
    TimezoneUpdate,
)

router = APIRouter(prefix="/acquisition", tags=["acquisition"])


@router.post("/profiles/refresh", response_model=RefreshPublic, summary="Refresh profiles")
def refresh_profiles(
    platform: PlatformDep, principal: PrincipalDep, body: RefreshCreate
) -> RefreshPublic:
    return RefreshPublic(
        profiles=platform.acquisition.refresh_profiles(principal, as_of=body.as_of)
    )


@router.get("/profiles/{customer_id}", response_model=ProfilePublic, summary="A customer's profile")
def get_profile(
    platform: PlatformDep,
    principal: PrincipalDep,
    customer_id: str,
    as_of: Annotated[
        datetime | None, Query(description="Point in time (computed, not stored)")
    ] = None,
) -> ProfilePublic:
    return ProfilePublic.of(platform.acquisition.profile(principal, customer_id, as_of=as_of))


@router.get("/offers/{customer_id}", response_model=list[OfferPublic], summary="Next-best offers")
def get_offers(
    platform: PlatformDep, principal: PrincipalDep, customer_id: str
) -> list[OfferPublic]:
    return [OfferPublic.of(o) for o in platform.acquisition.offers(principal, customer_id)]


@router.get("/models", response_model=list[ModelVersionPublic], summary="Stored models, live first")
def list_models(platform: PlatformDep, principal: PrincipalDep) -> list[ModelVersionPublic]:
    """The response and uplift models' stored versions with their held-out figures; the first
    is the one next-best-offer serves (``finbridge acquisition models train`` adds one)."""
    return [ModelVersionPublic.of(v) for v in platform.acquisition.model_versions(principal)]


@router.get("/creatives", response_model=list[CreativePublic], summary="Creatives, every version")
def list_creatives(platform: PlatformDep, principal: PrincipalDep) -> list[CreativePublic]:
    return [CreativePublic.of(c) for c in platform.acquisition.creatives(principal)]


@router.post("/creatives", response_model=CreativePublic, status_code=201, summary="Save a version")
def save_creative(
    platform: PlatformDep, principal: PrincipalDep, body: CreativeCreate
) -> CreativePublic:
    return CreativePublic.of(
        platform.acquisition.save_creative(principal, body.name, body.templates)
    )


@router.post(
    "/creatives/{name}/preview", response_model=PreviewPublic, summary="Render a creative now"
)
def preview_creative(
    platform: PlatformDep, principal: PrincipalDep, name: str, body: PreviewCreate
) -> PreviewPublic:
    title, text = platform.acquisition.preview(
        principal, name, version=body.version, customer_id=body.customer_id,
        offer_code=body.offer_code, locale=body.locale,
    )  # fmt: skip
    push = push_of(title, text, "preview")  # the deep link names a sample delivery
    return PreviewPublic(title=title, body=text, push=PushPublic.of(push))


@router.post("/audience-size", response_model=AudiencePublic, summary="Count an audience rule")
def audience_size(
    platform: PlatformDep, principal: PrincipalDep, body: AudienceCreate
) -> AudiencePublic:
    return AudiencePublic(**platform.acquisition.audience_size(principal, body.audience))


@router.get("/campaigns", response_model=list[CampaignPublic], summary="Campaigns, newest first")
def list_campaigns(platform: PlatformDep, principal: PrincipalDep) -> list[CampaignPublic]:
    return [CampaignPublic.of(c) for c in platform.acquisition.campaigns(principal)]


@router.post(
    "/campaigns", response_model=CampaignPublic, status_code=201, summary="Save a campaign"
)
def create_campaign(
    platform: PlatformDep, principal: PrincipalDep, body: CampaignCreate
) -> CampaignPublic:
    return CampaignPublic.of(
        platform.acquisition.create_campaign(principal, body.model_dump(exclude_none=True))
    )


@router.get("/campaigns/{campaign_id}", response_model=CampaignPublic, summary="One campaign")
def get_campaign(
    platform: PlatformDep, principal: PrincipalDep, campaign_id: str
) -> CampaignPublic:
    return CampaignPublic.of(platform.acquisition.campaign(principal, campaign_id))


@router.post(
    "/campaigns/{campaign_id}/schedule", response_model=SchedulePublic, summary="Plan a day"
)
def schedule_campaign(
    platform: PlatformDep, principal: PrincipalDep, campaign_id: str, body: ScheduleCreate
) -> SchedulePublic:
    return SchedulePublic.of(platform.acquisition.schedule(principal, campaign_id, body.day))


@router.get(
    "/campaigns/{campaign_id}/deliveries", response_model=list[DeliveryPublic], summary="Deliveries"
)
def campaign_deliveries(
    platform: PlatformDep,
    principal: PrincipalDep,
    campaign_id: str,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[DeliveryPublic]:
    return [
        DeliveryPublic.of(d)
        for d in platform.acquisition.deliveries(principal, campaign_id, limit=limit)
    ]


@router.get(
    "/campaigns/{campaign_id}/results", response_model=ResultsPublic, summary="Lift and Qini"
)
def campaign_results(
    platform: PlatformDep, principal: PrincipalDep, campaign_id: str
) -> ResultsPublic:
    return ResultsPublic.of(platform.acquisition.results(principal, campaign_id))


@router.post(
    "/campaigns/{campaign_id}/conversions",
    response_model=ConversionPublic,
    summary="Record a conversion",
)
def record_conversion(
    platform: PlatformDep, principal: PrincipalDep, campaign_id: str, body: ConversionCreate
) -> ConversionPublic:
    return ConversionPublic(
        arm=platform.acquisition.record_conversion(principal, campaign_id, body.customer_id)
    )


@router.post("/deliveries/run", response_model=DeliveryRunPublic, summary="Send what is due now")
def run_deliveries(platform: PlatformDep, principal: PrincipalDep) -> DeliveryRunPublic:
    report = platform.acquisition.deliver_due(principal)
    return DeliveryRunPublic(delivered=report.delivered, suppressed=report.suppressed)


@router.post("/opt-outs", status_code=204, summary="Opt a customer out of a campaign (or all)")
def opt_out(platform: PlatformDep, principal: PrincipalDep, body: OptOutCreate) -> None:
    platform.acquisition.opt_out(principal, body.customer_id, body.campaign_id)


@router.put(
    "/customers/{customer_id}/timezone",
    response_model=TimezonePublic,
    summary="Set the time zone a customer's messages are timed in",
)
def set_timezone(
    platform: PlatformDep, principal: PrincipalDep, customer_id: str, body: TimezoneUpdate
) -> TimezonePublic:
    tz = platform.acquisition.set_timezone(principal, customer_id, body.timezone)
    return TimezonePublic(customer_id=customer_id, timezone=tz)


@router.get(
    "/customers/{customer_id}/timezone",
    response_model=TimezonePublic,
    summary="The time zone a customer's messages are timed in",
)
def get_timezone(
    platform: PlatformDep, principal: PrincipalDep, customer_id: str
) -> TimezonePublic:
    tz = platform.acquisition.timezone_of(principal, customer_id)
    return TimezonePublic(customer_id=customer_id, timezone=tz)


@router.get(
    "/inbox/{customer_id}", response_model=list[DeliveryPublic], summary="Delivered messages"
)
def inbox(platform: PlatformDep, principal: PrincipalDep, customer_id: str) -> list[DeliveryPublic]:
    return [DeliveryPublic.of(d) for d in platform.acquisition.inbox(principal, customer_id)]


@router.post(
    "/inbox/{delivery_id}/open", response_model=DeliveryPublic, summary="Mark a message opened"
)
def open_message(
    platform: PlatformDep, principal: PrincipalDep, delivery_id: str
) -> DeliveryPublic:
    return DeliveryPublic.of(platform.acquisition.open(principal, delivery_id))

"""Wire types of ``/v1/acquisition``: the service checks every field again and names it."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field

from finbridge.acquisition import (
    Campaign,
    CampaignResults,
    Creative,
    Delivery,
    ModelVersion,
    Offer,
    Profile,
    PushMessage,
    ScheduleReport,
)
from finbridge.api.schemas.common import EntityId, WireModel


class RefreshCreate(WireModel):
    as_of: datetime | None = Field(default=None, description="Default: now")


class RefreshPublic(BaseModel):
    profiles: int


class ProfilePublic(BaseModel):
    customer_id: str
    as_of: datetime
    timezone: str
    fields: dict[str, Any]
    topics: dict[str, float]
    engagement_by_hour: list[float]
    stored: bool

    @classmethod
    def of(cls, p: Profile) -> ProfilePublic:
        return cls(**asdict(p))


class OfferPublic(BaseModel):
    code: str
    name: str
    risk_level: int
    expected_uplift: float
    value: str
    score: float
    reason: str
    response: float | None = Field(
        default=None, description="Calibrated probability of a yes (the live response model)"
    )
    model_version: str | None = Field(
        default=None, description="The stored model version that scored it; null: priors only"
    )

    @classmethod
    def of(cls, o: Offer) -> OfferPublic:
        return cls(**{**asdict(o), "value": str(o.value)})


class ModelVersionPublic(BaseModel):
    """A stored version of the response and uplift models (the first listed is live)."""

    version: str
    trained_at: datetime
    response_auc: dict[str, float]
    uplift_chosen: str
    uplift_test: dict[str, dict[str, float]]
    sources: dict[str, dict[str, Any]]

    @classmethod
    def of(cls, v: ModelVersion) -> ModelVersionPublic:
        return cls(
            version=v.version,
            trained_at=v.trained_at,
            response_auc=v.response_auc,
            uplift_chosen=v.uplift_chosen,
            uplift_test=v.manifest["uplift"]["test"],
            sources=v.manifest["sources"],
        )


class CreativeCreate(WireModel):
    name: str = Field(min_length=1, max_length=80)
    templates: dict[str, dict[str, str]] = Field(
        description='locale ("zh-CN" | "en") -> {"title", "body"} with ${field} placeholders'
    )


class CreativePublic(BaseModel):
    id: str
    name: str
    version: int
    templates: dict[str, dict[str, str]]
    fields: list[str]
    created_at: datetime

    @classmethod
    def of(cls, c: Creative) -> CreativePublic:
        return cls(**{**asdict(c), "fields": list(c.fields)})


class PreviewCreate(WireModel):
    version: int | None = Field(default=None, ge=1)
    customer_id: EntityId | None = None
    offer_code: str | None = Field(default=None, max_length=40)
    locale: str | None = Field(default=None, pattern=r"^(zh-CN|en)$")


class PushPublic(BaseModel):
    title: str = Field(description="Cut to what a lock screen shows")
    body: str
    deep_link: str = Field(description="The app path that opens the whole message")

    @classmethod
    def of(cls, p: PushMessage) -> PushPublic:
        return cls(title=p.title, body=p.body, deep_link=p.deep_link)


class PreviewPublic(BaseModel):
    title: str
    body: str
    push: PushPublic


class CampaignCreate(WireModel):
    name: str
    audience: str = Field(description="A rule over profile fields, e.g. news_reads > 1")
    creative: str
    creative_version: int | None = None
    offer_code: str | None = None
    schedule: dict[str, Any] = Field(
        description='{"kind": "fixed", "at": "HH:MM"} or {"kind": "send_time", "lead_minutes": 10}'
    )
    quiet_start: str | None = None
    quiet_end: str | None = None
    cap_per_day: int | None = None
    cap_per_week: int | None = None
    holdout_share: float | None = Field(default=None, description="Required: 0.01..0.5")


class CampaignPublic(BaseModel):
    id: str
    name: str
    audience: str
    offer_code: str | None
    creative_name: str
    creative_version: int
    schedule: dict[str, Any]
    quiet_hours: tuple[str, str]
    cap_per_day: int
    cap_per_week: int
    holdout_share: float
    status: str
    created_at: datetime

    @classmethod
    def of(cls, c: Campaign) -> CampaignPublic:
        return cls(**asdict(c))


class AudienceCreate(WireModel):
    audience: str


class AudiencePublic(BaseModel):
    profiles: int
    consenting: int
    matching: int


class ScheduleCreate(WireModel):
    day: date = Field(description="The customers' local date to plan")


class SchedulePublic(BaseModel):
    campaign_id: str
    day: date
    scheduled: int
    holdout: int
    skipped: dict[str, int]

    @classmethod
    def of(cls, r: ScheduleReport) -> SchedulePublic:
        return cls(**asdict(r))


class DeliveryRunPublic(BaseModel):
    delivered: int
    suppressed: dict[str, int]


class DeliveryPublic(BaseModel):
    id: str
    campaign_id: str
    customer_id: str
    day: date
    arm: str
    status: str
    reason: str | None
    scheduled_at: datetime
    delivered_at: datetime | None
    title: str | None
    body: str | None
    opened_at: datetime | None
    push: PushPublic | None = None

    @classmethod
    def of(cls, d: Delivery) -> DeliveryPublic:
        push = d.push()
        return cls(**asdict(d), push=PushPublic.of(push) if push else None)


class ConversionCreate(WireModel):
    customer_id: EntityId


class ConversionPublic(BaseModel):
    arm: str


class OptOutCreate(WireModel):
    customer_id: EntityId
    campaign_id: str = Field(default="*", max_length=36, description='"*": every campaign')


class TimezoneUpdate(WireModel):
    timezone: str = Field(min_length=1, max_length=64, description="IANA name, e.g. Europe/London")


class TimezonePublic(BaseModel):
    customer_id: str
    timezone: str


class LiftPublic(BaseModel):
    treated: int
    treated_converted: int
    holdout: int
    holdout_converted: int
    rate_treated: float | None
    rate_holdout: float | None
    lift: float | None
    low: float | None
    high: float | None
    confidence: float


class ResultsPublic(BaseModel):
    campaign: CampaignPublic
    lift: LiftPublic
    delivered: int
    opened: int
    qini_points: list[tuple[float, float]]

    @classmethod
    def of(cls, r: CampaignResults) -> ResultsPublic:
        return cls(
            campaign=CampaignPublic.of(r.campaign),
            lift=LiftPublic(**asdict(r.lift)),
            delivered=r.delivered,
            opened=r.opened,
            qini_points=r.qini_points,
        )

"""Acquisition's domain events (the lake carries deliveries, opens and conversions)."""

from __future__ import annotations

from finbridge.lake.events import EventPayload, register_schema

SOURCE = "acquisition"


@register_schema("acquisition.delivered", 1)
class DeliveredV1(EventPayload):
    """A campaign message reached the customer's in-app inbox (no message text: it may carry
    balances; the text stays in acquisition's own records)."""

    delivery_id: str
    campaign_id: str
    creative: str
    offer_code: str | None = None
    channel: str = "in_app"


@register_schema("acquisition.opened", 1)
class OpenedV1(EventPayload):
    """The customer opened a delivered message (engagement for send-time scoring)."""

    delivery_id: str
    campaign_id: str


@register_schema("acquisition.converted", 1)
class ConvertedV1(EventPayload):
    """A customer of a campaign (treated or held out) took its offer."""

    campaign_id: str
    arm: str
    offer_code: str | None = None


@register_schema("acquisition.campaign_saved", 1)
class CampaignSavedV1(EventPayload):
    campaign_id: str
    name: str
    holdout_share: float

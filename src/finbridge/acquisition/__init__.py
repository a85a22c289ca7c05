"""Customer acquisition: profiles, response and uplift models, send time, creatives, campaigns
(issue 17): the "finance breakfast".

- :class:`AcquisitionService` (built once per platform by :meth:`AcquisitionService.build`):
  consent-gated profiles from the lake (point in time, incremental), next-best offers, versioned
  creatives, campaigns with a contact policy and a permanent holdout, scheduling at each
  person's send time, delivery with live headlines and the portfolio, measured lift.
- Ports (:mod:`.ports`) the platform fills from other engines: consent, suitability, credit
  decisions, the inbox, the portfolio; their defaults are the safe answers.
- Models, usable alone from a notebook (scikit-learn and LightGBM load on use):
  :mod:`.response` (calibrated LightGBM on bank marketing, with baselines and reasons),
  :mod:`.uplift` (two-model, class transformation, our uplift forest; Qini and AUUC),
  :mod:`.sendtime` (168-slot send time, vectorised); :class:`ModelRegistry` stores the trained
  response and uplift models as versioned files that next-best-offer serves (:mod:`.registry`).
"""

from finbridge.acquisition.catalog import PRODUCTS, Product
from finbridge.acquisition.creatives import FIELDS as CREATIVE_FIELDS
from finbridge.acquisition.creatives import (
    FINANCE_BREAKFAST,
    PUSH_BODY_MAX,
    PUSH_TITLE_MAX,
    PushMessage,
    push_of,
)
from finbridge.acquisition.news import NEWS_FILE, headlines_for
from finbridge.acquisition.ports import (
    MARKETING,
    ConsentPort,
    CreditDecisionPort,
    InboxMessage,
    InboxPort,
    PortfolioPort,
    PortfolioSummary,
    SuitabilityPort,
)
from finbridge.acquisition.profiles import KINDS as PROFILE_EVENT_TYPES
from finbridge.acquisition.registry import ModelRegistry, ModelVersion
from finbridge.acquisition.response import evaluate_response, load_bank_marketing
from finbridge.acquisition.service import (
    AcquisitionService,
    Campaign,
    CampaignResults,
    Creative,
    Delivery,
    DeliveryReport,
    MarketingConsentRequired,
    Offer,
    Profile,
    ScheduleReport,
)
from finbridge.acquisition.uplift import evaluate_uplift, load_hillstrom

__all__ = [
    "CREATIVE_FIELDS",
    "FINANCE_BREAKFAST",
    "MARKETING",
    "NEWS_FILE",
    "PRODUCTS",
    "PROFILE_EVENT_TYPES",
    "PUSH_BODY_MAX",
    "PUSH_TITLE_MAX",
    "AcquisitionService",
    "Campaign",
    "CampaignResults",
    "ConsentPort",
    "Creative",
    "CreditDecisionPort",
    "Delivery",
    "DeliveryReport",
    "InboxMessage",
    "InboxPort",
    "MarketingConsentRequired",
    "ModelRegistry",
    "ModelVersion",
    "Offer",
    "PortfolioPort",
    "PortfolioSummary",
    "Product",
    "Profile",
    "PushMessage",
    "ScheduleReport",
    "SuitabilityPort",
    "evaluate_response",
    "evaluate_uplift",
    "headlines_for",
    "load_bank_marketing",
    "load_hillstrom",
    "push_of",
]

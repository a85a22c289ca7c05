"""The suitability rule, specified once (2017 PRC investor-suitability measures, as the bank
applies them): a Cn investor may buy products up to Rn; above Rn only after a specific warning,
the investor's explicit confirmation and a fresh second factor; C1 (the lowest-capacity
category) never above R1; no live profile (none, or expired) -> no purchase.

:func:`match` is pure: the service feeds it the profile, product and what the customer sent,
and stores whatever it answers as evidence.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum

from finbridge.advisory.catalogue import Product


class Outcome(StrEnum):
    MATCH = "match"  # product level within the category
    ABOVE_LEVEL_CONFIRMED = "above_level_confirmed"  # warned, confirmed, second factor fresh
    WARNING_REQUIRED = "warning_required"  # above level: show the warning, ask to confirm
    REFUSED_C1 = "refused_c1"  # C1 may never buy above R1
    NO_PROFILE = "no_profile"
    PROFILE_EXPIRED = "profile_expired"


ALLOWED = frozenset({Outcome.MATCH, Outcome.ABOVE_LEVEL_CONFIRMED})


@dataclass(frozen=True)
class Warning:
    code: str  # specific to (profile, product, levels): a confirmation of another warning fails
    text_en: str
    text_zh: str


@dataclass(frozen=True)
class Match:
    outcome: Outcome
    reasons: tuple[str, ...]
    warning: Warning | None = None
    needs_second_factor: bool = False

    @property
    def allowed(self) -> bool:
        return self.outcome in ALLOWED


def warning_for(profile_id: str, category: str, product: Product) -> Warning:
    digest = hashlib.sha256(
        f"{profile_id}|{category}|{product.code}|{product.risk_level}".encode()
    ).hexdigest()
    loss = round(product.max_drawdown * 100)
    en = (
        f"{product.name} ({product.code}) is risk level {product.risk_level}, above your risk "
        f"category {category}, which suits products up to R{category[1]}. Over 2007-2017 it "
        f"fell by up to {loss}% from a peak. You may lose much of the money you invest. Confirm "
        f"only if you understand and accept this risk."
    )
    zh = (
        f"{product.name}（{product.code}）的风险等级为{product.risk_level}，高于您的风险承受能力"
        f"类别{category}（适合R{category[1]}及以下产品）。2007-2017年间其最大回撤约{loss}%。"
        f"您可能损失大部分投资本金。请在充分理解并愿意承担该风险后再确认。"
    )
    return Warning(f"W{digest[:15]}", en, zh)


def highest_level(category: str | None, *, expired: bool) -> int:
    """The highest product level (1..5) a customer may be offered or sold without a warning:
    Rn for a live Cn profile; 0 (nothing that needs a profile) without one or once expired.
    The same comparison :func:`match` makes, for engines that rank offers (acquisition)."""
    if category is None or expired:
        return 0
    return int(category[1])


def match(
    *,
    profile_id: str | None,
    category: str | None,
    expired: bool,
    product: Product,
    warning_code: str | None,
    confirmed: bool,
) -> Match:
    """Decide one match; ``needs_second_factor`` is set when only the step-up is left."""
    if profile_id is None or category is None:
        return Match(Outcome.NO_PROFILE, ("no risk profile: complete the questionnaire",))
    if expired:
        return Match(Outcome.PROFILE_EXPIRED, ("the risk profile has expired: redo it",))
    level, cap = product.level_number, highest_level(category, expired=False)
    if level <= cap:
        return Match(Outcome.MATCH, (f"{product.risk_level} is within {category}",))
    if cap == 1:
        return Match(
            Outcome.REFUSED_C1,
            (f"{category} investors may not buy products above R1 ({product.risk_level})",),
        )
    warning = warning_for(profile_id, category, product)
    if warning_code != warning.code or not confirmed:
        reason = (
            "the warning code does not match this product's warning"
            if warning_code not in (None, warning.code)
            else f"{product.risk_level} is above {category}: read the warning and confirm"
        )
        return Match(Outcome.WARNING_REQUIRED, (reason,), warning)
    return Match(
        Outcome.ABOVE_LEVEL_CONFIRMED,
        (f"{product.risk_level} above {category}: warned, confirmed, second factor",),
        warning,
        needs_second_factor=True,
    )

"""Credit-line products and limit policies as versioned data.

The shipped catalogue (``catalogue/products.yaml``) is loaded into the database by
:meth:`LendingService.install_catalogue`; a line copies its product's terms when it opens, so a
later product version never changes an open line retroactively.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from importlib import resources
from typing import Any

import yaml

from finbridge.core.errors import ValidationError
from finbridge.core.money import Money

WATERFALL_PARTS = ("fees", "interest", "revolving", "cash", "purchases")
# A waterfall may also place instalment principal due; where it does not, it comes after interest.
OPTIONAL_WATERFALL_PARTS = ("instalment_due",)
INSTALMENT_PERIODS = (3, 6, 9, 12)
FEE_MODES = ("per_period", "upfront")
# Early settlement of a plan: unbilled periods' fees are waived, or charged with the settlement.
EARLY_SETTLEMENT_RULES = ("waive_fees", "charge_fees")


def _dec(data: dict[str, Any], name: str) -> Decimal:
    try:
        value = Decimal(str(data[name]))
    except (KeyError, InvalidOperation) as exc:
        raise ValidationError(f"{name} must be a decimal string", field=name) from exc
    if value < 0:
        raise ValidationError(f"{name} must not be negative", field=name)
    return value


def _int(data: dict[str, Any], name: str, lo: int, hi: int) -> int:
    value = data.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise ValidationError(f"{name} must be an integer from {lo} to {hi}", field=name)
    return value


def rate_e6(rate: Decimal, field: str) -> int:
    """A daily rate as an integer number of millionths, so daily interest in micro-minor units
    is ``balance_minor * rate_e6`` exactly (integer SQL, no rounding)."""
    scaled = rate * 1_000_000
    if scaled != scaled.to_integral_value():
        raise ValidationError(f"{field} may have at most 6 decimal places", field=field)
    return int(scaled)


@dataclass(frozen=True, slots=True)
class ProductTerms:
    """Everything a line needs from its product, frozen on the line at opening."""

    code: str
    version: int
    name: str
    currency: str
    limit_min: Money
    limit_max: Money
    statement_day: int
    due_days: int
    daily_rate: Decimal
    cash_daily_rate: Decimal
    min_payment_pct: Decimal
    min_payment_floor: Money
    late_fee: Money
    grace_days: int
    suspend_at_dpd: int
    charge_off_dpd: int
    instalment_fee_pct_per_period: Decimal
    instalment_periods: tuple[int, ...]
    waterfall: tuple[str, ...]
    instalment_fee_mode: str = "per_period"
    instalment_early_settlement: str = "waive_fees"

    @property
    def product_id(self) -> str:
        return f"{self.code}@{self.version}"

    @classmethod
    def parse(cls, data: dict[str, Any]) -> ProductTerms:
        """Validate one product document; every error names the field."""
        code = data.get("code")
        if not isinstance(code, str) or not code.isidentifier():
            raise ValidationError("code must be a short identifier", field="code")
        cur = str(data.get("currency", ""))
        # A statement day of 29..31 does not exist in every month: refused rather than guessed.
        statement_day = _int(data, "statement_day", 1, 28)
        waterfall = tuple(data.get("waterfall") or WATERFALL_PARTS)
        core = tuple(p for p in waterfall if p not in OPTIONAL_WATERFALL_PARTS)
        if sorted(core) != sorted(WATERFALL_PARTS) or len(set(waterfall)) != len(waterfall):
            raise ValidationError(
                f"waterfall must order exactly {', '.join(WATERFALL_PARTS)} "
                "(and optionally instalment_due)",
                field="waterfall",
            )
        fee_mode = str(data.get("instalment_fee_mode") or "per_period")
        if fee_mode not in FEE_MODES:
            raise ValidationError(
                "instalment_fee_mode is per_period or upfront", field="instalment_fee_mode"
            )
        early = str(data.get("instalment_early_settlement") or "waive_fees")
        if early not in EARLY_SETTLEMENT_RULES:
            raise ValidationError(
                "instalment_early_settlement is waive_fees or charge_fees",
                field="instalment_early_settlement",
            )
        periods = tuple(data.get("instalment_periods") or ())
        if any(p not in INSTALMENT_PERIODS for p in periods):
            raise ValidationError(
                "instalment periods are 3, 6, 9 or 12", field="instalment_periods"
            )
        terms = cls(
            code=code,
            version=_int(data, "version", 1, 10_000),
            name=str(data.get("name") or code),
            currency=cur,
            limit_min=Money.of(str(data.get("limit_min")), cur, field="limit_min"),
            limit_max=Money.of(str(data.get("limit_max")), cur, field="limit_max"),
            statement_day=statement_day,
            due_days=_int(data, "due_days", 1, 40),
            daily_rate=_dec(data, "daily_rate"),
            cash_daily_rate=_dec(data, "cash_daily_rate"),
            min_payment_pct=_dec(data, "min_payment_pct"),
            min_payment_floor=Money.of(
                str(data.get("min_payment_floor")), cur, field="min_payment_floor"
            ),
            late_fee=Money.of(str(data.get("late_fee")), cur, field="late_fee"),
            grace_days=_int(data, "grace_days", 0, 10),
            suspend_at_dpd=_int(data, "suspend_at_dpd", 1, 365),
            charge_off_dpd=_int(data, "charge_off_dpd", 30, 720),
            instalment_fee_pct_per_period=_dec(data, "instalment_fee_pct_per_period"),
            instalment_periods=periods,
            waterfall=waterfall,
            instalment_fee_mode=fee_mode,
            instalment_early_settlement=early,
        )
        rate_e6(terms.daily_rate, "daily_rate")
        rate_e6(terms.cash_daily_rate, "cash_daily_rate")
        if terms.limit_min > terms.limit_max:
            raise ValidationError("limit_min is above limit_max", field="limit_min")
        if terms.min_payment_pct > 1:
            raise ValidationError("min_payment_pct is a fraction", field="min_payment_pct")
        return terms

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "version": self.version,
            "name": self.name,
            "currency": self.currency,
            "limit_min": str(self.limit_min.amount),
            "limit_max": str(self.limit_max.amount),
            "statement_day": self.statement_day,
            "due_days": self.due_days,
            "daily_rate": str(self.daily_rate),
            "cash_daily_rate": str(self.cash_daily_rate),
            "min_payment_pct": str(self.min_payment_pct),
            "min_payment_floor": str(self.min_payment_floor.amount),
            "late_fee": str(self.late_fee.amount),
            "grace_days": self.grace_days,
            "suspend_at_dpd": self.suspend_at_dpd,
            "charge_off_dpd": self.charge_off_dpd,
            "instalment_fee_pct_per_period": str(self.instalment_fee_pct_per_period),
            "instalment_periods": list(self.instalment_periods),
            "waterfall": list(self.waterfall),
            # Written only when not the default, so products published before these fields
            # existed keep exactly the terms they were installed with.
            **({"instalment_fee_mode": self.instalment_fee_mode}
               if self.instalment_fee_mode != "per_period" else {}),
            **({"instalment_early_settlement": self.instalment_early_settlement}
               if self.instalment_early_settlement != "waive_fees" else {}),
        }  # fmt: skip


@dataclass(frozen=True, slots=True)
class LimitPolicy:
    """Score band x income proxy band -> limit, less existing exposure. Versioned."""

    version: int
    min_score: int
    bands: tuple[tuple[int, Decimal], ...]  # (minimum score, limit), ascending
    income_multiplier: dict[str, Decimal]

    @classmethod
    def parse(cls, data: dict[str, Any]) -> LimitPolicy:
        bands = tuple(
            sorted((_int(b, "min_score", 0, 1000), _dec(b, "limit")) for b in data.get("bands", []))
        )
        if not bands:
            raise ValidationError("a policy needs at least one band", field="bands")
        mult = {str(k): Decimal(str(v)) for k, v in (data.get("income_multiplier") or {}).items()}
        if not mult:
            raise ValidationError("income_multiplier is required", field="income_multiplier")
        return cls(_int(data, "version", 1, 10_000), _int(data, "min_score", 0, 1000), bands, mult)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "min_score": self.min_score,
            "bands": [{"min_score": s, "limit": str(v)} for s, v in self.bands],
            "income_multiplier": {k: str(v) for k, v in self.income_multiplier.items()},
        }

    def limit_for(
        self, score: float, income_band: str, exposure: Money, terms: ProductTerms
    ) -> tuple[Money | None, list[str]]:
        """The limit this policy grants, or ``None`` with the readable reasons it does not."""
        if score < self.min_score:
            return None, [f"credit score {score:.0f} is below the policy minimum {self.min_score}"]
        if income_band not in self.income_multiplier:
            known = ", ".join(sorted(self.income_multiplier))
            return None, [f"income band {income_band!r} is not one of {known}"]
        base = max(limit for s, limit in self.bands if score >= s)
        raw = base * self.income_multiplier[income_band] - exposure.amount
        capped = min(raw, terms.limit_max.amount)
        # Limits are whole hundreds: what a customer sees and what the ledger floor holds.
        whole = (capped // 100) * 100
        if whole < terms.limit_min.amount:
            return None, [
                f"the limit the policy allows ({max(whole, Decimal(0))}) after existing exposure "
                f"({exposure.amount}) is below the product minimum {terms.limit_min.amount}"
            ]
        return Money.of(whole, terms.currency), []


def shipped_catalogue() -> tuple[list[ProductTerms], list[LimitPolicy]]:
    text = resources.files("finbridge.lending").joinpath("catalogue/products.yaml").read_text()
    return parse_catalogue(text)


def parse_catalogue(text: str) -> tuple[list[ProductTerms], list[LimitPolicy]]:
    data = yaml.safe_load(text) or {}
    products = [ProductTerms.parse(p) for p in data.get("products", [])]
    policies = [LimitPolicy.parse(p) for p in data.get("policies", [])]
    return products, policies

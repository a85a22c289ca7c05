"""Base layer: money, identifiers, the injectable clock, errors and settings."""

from finbridge.core.clock import Clock, ManualClock, SystemClock, business_date, ensure_aware
from finbridge.core.errors import (
    AccountNotActive,
    AuthenticationFailed,
    BusinessRuleViolation,
    Conflict,
    CurrencyMismatch,
    FinbridgeError,
    IdempotencyConflict,
    InsufficientFunds,
    LimitExceeded,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
    ServiceUnavailable,
    StepUpRequired,
    ValidationError,
)
from finbridge.core.ids import is_valid_id, new_id, new_secret_id
from finbridge.core.money import CURRENCIES, Currency, Money, currency
from finbridge.core.principal import Principal, PrincipalKind, Role
from finbridge.core.settings import Settings

__all__ = [
    "CURRENCIES",
    "AccountNotActive",
    "AuthenticationFailed",
    "BusinessRuleViolation",
    "Clock",
    "Conflict",
    "Currency",
    "CurrencyMismatch",
    "FinbridgeError",
    "IdempotencyConflict",
    "InsufficientFunds",
    "LimitExceeded",
    "ManualClock",
    "Money",
    "NotFound",
    "PayloadTooLarge",
    "PermissionDenied",
    "Principal",
    "PrincipalKind",
    "RateLimited",
    "Role",
    "ServiceUnavailable",
    "Settings",
    "StepUpRequired",
    "SystemClock",
    "ValidationError",
    "business_date",
    "currency",
    "ensure_aware",
    "is_valid_id",
    "new_id",
    "new_secret_id",
]

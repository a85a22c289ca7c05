"""One error hierarchy for the whole platform.

Every error carries a stable machine-readable ``code`` and, where the problem is one input field,
the ``field`` it names, so the API can render RFC 9457 problem details without guessing.
"""

from __future__ import annotations

from typing import Any


class FinbridgeError(Exception):
    """Base of every error finbridge raises on purpose."""

    code: str = "error"
    title: str = "Request failed"

    def __init__(self, detail: str, *, field: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.extra = extra

    def __str__(self) -> str:
        return f"{self.field}: {self.detail}" if self.field else self.detail


class ValidationError(FinbridgeError):
    """Input is malformed or out of range; ``field`` names which input."""

    code = "validation_error"
    title = "Invalid input"


class NotFound(FinbridgeError):
    """The object does not exist, or the caller may not know that it exists."""

    code = "not_found"
    title = "Not found"


class Conflict(FinbridgeError):
    """The request clashes with the current state of an object."""

    code = "conflict"
    title = "Conflict"


class IdempotencyConflict(Conflict):
    """An idempotency key was reused with a different request."""

    code = "idempotency_conflict"
    title = "Idempotency key reused with a different request"


class BusinessRuleViolation(FinbridgeError):
    """The request is well-formed but a business rule refuses it."""

    code = "business_rule"
    title = "Refused by a business rule"


class InsufficientFunds(BusinessRuleViolation):
    code = "insufficient_funds"
    title = "Insufficient funds"


class LimitExceeded(BusinessRuleViolation):
    """A documented bound (a maximum balance, a rate, a size) would be passed."""

    code = "limit_exceeded"
    title = "Limit exceeded"


class AccountNotActive(BusinessRuleViolation):
    code = "account_not_active"
    title = "Account is frozen or closed"


class CurrencyMismatch(ValidationError):
    code = "currency_mismatch"
    title = "Currency mismatch"


class AuthenticationFailed(FinbridgeError):
    """No valid credentials were presented."""

    code = "authentication_failed"
    title = "Authentication required"


class PermissionDenied(FinbridgeError):
    """Credentials are valid but do not allow this action."""

    code = "permission_denied"
    title = "Forbidden"


class StepUpRequired(FinbridgeError):
    """The action needs a fresh second factor first."""

    code = "step_up_required"
    title = "Step-up authentication required"


class PendingApproval(FinbridgeError):
    """Accepted but not done: the request waits for a second person's approval (dual control).
    ``extra["approval_id"]`` names what the second person approves."""

    code = "approval_pending"
    title = "Waiting for a second operator's approval"


class RateLimited(FinbridgeError):
    code = "rate_limited"
    title = "Too many requests"


class PayloadTooLarge(ValidationError):
    code = "payload_too_large"
    title = "Payload too large"


class ServiceUnavailable(FinbridgeError):
    """A dependency (database, Redis, a partner) is not reachable."""

    code = "service_unavailable"
    title = "Service unavailable"


# The one mapping of errors to HTTP statuses, shared by every interface (API problem documents,
# console pages, the gateway). Most specific first: the first matching class decides.
_HTTP_STATUS: tuple[tuple[type[FinbridgeError], int], ...] = (
    (PayloadTooLarge, 413),
    (IdempotencyConflict, 409),
    (CurrencyMismatch, 422),
    (ValidationError, 422),
    (NotFound, 404),
    (Conflict, 409),
    (BusinessRuleViolation, 422),
    (AuthenticationFailed, 401),
    (StepUpRequired, 403),
    (PermissionDenied, 403),
    (RateLimited, 429),
    (ServiceUnavailable, 503),
    (PendingApproval, 202),
)


def http_status(exc: FinbridgeError) -> int:
    """The HTTP status an interface answers ``exc`` with (400 for anything unlisted)."""
    for cls, status in _HTTP_STATUS:
        if isinstance(exc, cls):
            return status
    return 400


# Members of an RFC 9457 problem document; an error's extra data never overrides them.
_PROBLEM_MEMBERS = frozenset(
    {"type", "title", "status", "detail", "code", "instance", "field", "errors"}
)


def problem_document(
    status: int, title: str, detail: str, *, code: str, instance: str | None = None, **extra: Any
) -> dict[str, Any]:
    """The RFC 9457 problem document every interface answers with (members left out when
    None). The API renders it with FastAPI, the gateway with its own ASGI code."""
    body: dict[str, Any] = {
        "type": f"https://finbridge.dev/problems/{code.replace('_', '-')}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if instance is not None:
        body["instance"] = instance
    body.update({k: v for k, v in extra.items() if v is not None})
    return body


def problem_of(exc: FinbridgeError, instance: str) -> tuple[int, dict[str, Any]]:
    """(status, problem document) for one of our errors."""
    status = http_status(exc)
    extra = {
        k: v
        for k, v in exc.extra.items()
        if k not in _PROBLEM_MEMBERS and isinstance(v, str | int | float | bool | list | dict)
    }
    return status, problem_document(
        status, exc.title, exc.detail, code=exc.code, instance=instance, field=exc.field, **extra
    )

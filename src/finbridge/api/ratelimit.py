"""Rate limits on ``/v1`` (``finbridge.core.ratelimit``): every call per client IP and per
authenticated API key or customer, and the abuse-prone actions (login, registration, second
factors, partner uploads) by their own, tighter limits. One table says which is which."""

from __future__ import annotations

from fastapi import Request

from finbridge.core.principal import Principal
from finbridge.core.ratelimit import RateLimiter

# (method, path) -> the per-IP limit that action also counts against, before authentication.
PER_IP_ACTIONS: dict[tuple[str, str], str] = {
    ("POST", "/v1/identity/login"): "login_per_ip",
    ("POST", "/v1/identity/login/passkey"): "login_per_ip",
    ("POST", "/v1/identity/register"): "registration_per_ip",
    ("POST", "/v1/identity/login/second-factor"): "otp_per_ip",
    ("POST", "/v1/identity/step-up/totp"): "otp_per_ip",
    ("POST", "/v1/identity/step-up/passkey"): "otp_per_ip",
    ("POST", "/v1/identity/totp/confirm"): "otp_per_ip",
}
# (method, path) -> the limit counted per authenticated principal.
PER_PRINCIPAL_ACTIONS: dict[tuple[str, str], str] = {
    ("POST", "/v1/events/ingest"): "ingestion_per_principal",
}


def client_ip(request: Request) -> str:
    """The peer address (uvicorn's, or the proxy's forwarded one when it is trusted)."""
    return request.client.host if request.client is not None else "unknown"


def limiter_of(request: Request) -> RateLimiter:
    return request.app.state.rate_limiter  # type: ignore[no-any-return]


def limit_by_ip(request: Request) -> None:
    limiter = limiter_of(request)
    ip = client_ip(request)
    limiter.hit("api_per_ip", ip)
    action = PER_IP_ACTIONS.get((request.method, request.url.path))
    if action is not None:
        limiter.hit(action, ip)


def limit_by_principal(request: Request, principal: Principal) -> None:
    limiter = limiter_of(request)
    who = f"{principal.kind.value}:{principal.customer_id or principal.id}"
    limiter.hit("api_per_principal", who)
    action = PER_PRINCIPAL_ACTIONS.get((request.method, request.url.path))
    if action is not None:
        limiter.hit(action, who)

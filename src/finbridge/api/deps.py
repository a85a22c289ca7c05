"""Dependency aliases so route signatures stay short: ``PlatformDep``, ``PrincipalDep``.

Authentication happens here once; authorisation happens in the services, which receive the
``Principal``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from finbridge.api.services import identity_services
from finbridge.core.errors import AuthenticationFailed
from finbridge.core.principal import Principal
from finbridge.identity.apikeys import KEY_PREFIX, ApiKeyService, VerifiedKeys
from finbridge.platform import Platform


async def get_platform(request: Request) -> Platform:
    # async (like every dependency here) so FastAPI runs it inline, not on a worker thread.
    return request.app.state.platform  # type: ignore[no-any-return]


PlatformDep = Annotated[Platform, Depends(get_platform)]


def api_keys(platform: Platform) -> ApiKeyService:
    # One service per platform: it holds the verified-key cache, and the hot path asks it on
    # every request.
    service = platform.state.get(_KEY_SERVICE)
    if service is None:
        service = platform.state.setdefault(
            _KEY_SERVICE,
            ApiKeyService(
                platform.engine,
                platform.clock,
                platform.settings.secret_key.get_secret_value(),
                VerifiedKeys(platform.settings.api_key_cache_seconds),
            ),
        )
    return service  # type: ignore[no-any-return]


_KEY_SERVICE = "identity.api_keys"


def credential_from_headers(authorization: str | None, x_api_key: str | None) -> str | None:
    """The credential in ``X-API-Key`` or ``Authorization: Bearer`` (the former wins)."""
    if x_api_key:
        return x_api_key.strip()
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    return None


def presented_credential(request: Request) -> str:
    """The caller's credential: a header, or the console's HttpOnly session cookie."""
    credential = credential_from_headers(
        request.headers.get("authorization"), request.headers.get("x-api-key")
    )
    if credential is None:
        credential = request.cookies.get("finbridge_session")
    if not credential:
        raise AuthenticationFailed("missing credentials: send Authorization: Bearer <key>")
    return credential


def authenticate(platform: Platform, credential: str) -> Principal:
    """Who ``credential`` belongs to (may read the database)."""
    if credential.startswith(f"{KEY_PREFIX}_"):
        return api_keys(platform).authenticate(credential)
    if credential.count(".") == 2:  # a customer access token (compact JWS, see identity.tokens)
        return identity_services(platform).sessions.authenticate(credential)
    for authenticator in platform.state.get("authenticators", []):
        principal = authenticator(platform, credential)
        if principal is not None:
            return principal  # type: ignore[no-any-return]
    raise AuthenticationFailed("invalid credentials")


# Declared for the OpenAPI document (its "Authorize" button); the values are read in
# ``presented_credential`` so the console's cookie works the same way.
_BEARER = HTTPBearer(auto_error=False, description="an operator API key or a customer token")
_API_KEY = APIKeyHeader(name="X-API-Key", auto_error=False, description="an operator API key")


async def get_principal(
    request: Request,
    platform: PlatformDep,
    _bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)] = None,
    _key: Annotated[str | None, Security(_API_KEY)] = None,
) -> Principal:
    return await principal_of(request, platform)


async def principal_of(request: Request, platform: Platform) -> Principal:
    """Authenticate the caller of ``request``; what ``PrincipalDep`` runs, callable inline by
    hot-path routes that skip FastAPI's dependency resolution."""
    credential = presented_credential(request)
    if credential.startswith(f"{KEY_PREFIX}_"):
        # A key verified moments ago answers from memory, on the event loop.
        principal = api_keys(platform).cached(credential)
        if principal is not None:
            return principal
    # Anything else may read the database: off the event loop.
    return await run_in_threadpool(authenticate, platform, credential)


PrincipalDep = Annotated[Principal, Depends(get_principal)]

"""Dependency aliases so route signatures stay short: ``PlatformDep``, ``PrincipalDep``.

Authentication happens here once; authorisation happens in the services, which receive the
``Principal``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from finbridge.api.services import identity_services
from finbridge.core.errors import AuthenticationFailed
from finbridge.core.principal import Principal
from finbridge.identity.apikeys import KEY_PREFIX, ApiKeyService
from finbridge.platform import Platform


def get_platform(request: Request) -> Platform:
    return request.app.state.platform  # type: ignore[no-any-return]


PlatformDep = Annotated[Platform, Depends(get_platform)]


def api_keys(platform: PlatformDep) -> ApiKeyService:
    return ApiKeyService(
        platform.engine, platform.clock, platform.settings.secret_key.get_secret_value()
    )


def _presented_credential(authorization: str | None, x_api_key: str | None) -> str | None:
    if x_api_key:
        return x_api_key.strip()
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    return None


def get_principal(
    request: Request,
    platform: PlatformDep,
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
) -> Principal:
    credential = _presented_credential(authorization, x_api_key)
    if credential is None:
        # Console pages carry the key in an HttpOnly session cookie instead of a header.
        credential = request.cookies.get("finbridge_session")
    if not credential:
        raise AuthenticationFailed("missing credentials: send Authorization: Bearer <key>")
    if credential.startswith(f"{KEY_PREFIX}_"):
        return api_keys(platform).authenticate(credential)
    if credential.count(".") == 2:  # a customer access token (compact JWS, see identity.tokens)
        return identity_services(platform).sessions.authenticate(credential)
    for authenticator in platform.state.get("authenticators", []):
        principal = authenticator(platform, credential)
        if principal is not None:
            return principal  # type: ignore[no-any-return]
    raise AuthenticationFailed("invalid credentials")


PrincipalDep = Annotated[Principal, Depends(get_principal)]

"""Every route refuses anonymous callers and wrong credentials, except a short public list.

The routes are walked from the live app, so a route added later by any package is checked too;
a new public route must be added to ``PUBLIC`` on purpose.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

UNKNOWN_ID = "01890000-0000-7000-8000-000000000000"
HX = {"HX-Request": "true"}

# (method, path) pairs that must answer without credentials, and why.
PUBLIC: set[tuple[str, str]] = {
    ("GET", "/health"),  # liveness probe
    ("GET", "/ready"),  # readiness probe
    ("GET", "/openapi.json"),  # the API description
    ("GET", "/docs"),
    ("GET", "/docs/oauth2-redirect"),
    ("GET", "/redoc"),
    ("GET", "/console/login"),  # the login form itself
    ("POST", "/console/login"),  # checks the key it is given
    ("POST", "/console/logout"),  # ends whatever session the cookie names
    # Open banking's developer sign-up: an organisation applies (per-IP limited, CSRF-checked)
    # and later exchanges the claim code it was shown for its key (the code is the credential).
    ("GET", "/console/developers/join"),
    ("POST", "/console/developers/join"),
    ("POST", "/console/developers/claim"),
}
# Public by nature: credential exchanges of the identity engine (they check what they receive).
PUBLIC_PREFIXES = (
    "/v1/identity/register",
    "/v1/identity/login",
    "/v1/identity/token/refresh",
    "/v1/identity/jwks",
    "/console/identity/login",  # customer password (+ TOTP) login form and its posts
    "/console/static",
    # OAuth 2.0 / FAPI endpoints check the client's own credentials (private_key_jwt, PKCE,
    # DPoP) and answer with OAuth errors; discovery metadata and JWKS are public by standard.
    "/oauth2/",
    "/.well-known/",
    # The customer app's sign-in, sign-up, language and logout forms (CSRF-checked, no session).
    "/app/login",
    "/app/signup",
    "/app/lang",
    "/app/logout",
    "/app/static",
)


def _routes(app: FastAPI) -> Iterator[tuple[str, str]]:
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI: included routes are flat on app.routes
        contexts = app.routes
    else:
        contexts = list(iter_route_contexts(app.routes))
    for ctx in contexts:
        methods = getattr(ctx, "methods", None) or set()
        path = getattr(ctx, "path", "")
        for method in sorted(methods - {"HEAD", "OPTIONS"}):
            yield method, path


def _protected(app: FastAPI) -> list[tuple[str, str]]:
    out = []
    for method, path in _routes(app):
        if (method, path) in PUBLIC or path.startswith(PUBLIC_PREFIXES):
            continue
        out.append((method, re.sub(r"\{[^}]+\}", UNKNOWN_ID, path)))
    return sorted(set(out))


def _app_csrf(client: TestClient, headers: dict[str, str]) -> str:
    """A valid CSRF token for this anonymous browser, so the walk tests authentication and not
    the CSRF check that runs before it."""
    page = client.get("/app/login", headers=headers)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, "the app's sign-in form carries a CSRF token"
    return match.group(1)


def _refused(client: TestClient, method: str, path: str, headers: dict[str, str]) -> bool:
    if path.startswith("/app"):
        sent = dict(headers)
        if method != "GET":
            sent["X-CSRF-Token"] = _app_csrf(client, headers)
            if "Cookie" in headers:  # an explicit Cookie header replaces the client's jar
                csrf_cookie = client.cookies.get("finbridge_app_csrf")
                sent["Cookie"] = f"{headers['Cookie']}; finbridge_app_csrf={csrf_cookie}"
        response = client.request(method, path, headers=sent, follow_redirects=False)
        return response.status_code in (303, 401) and (
            response.status_code == 401 or response.headers["location"].startswith("/app/login")
        )
    if path.startswith("/open-banking"):
        # Third-party APIs take only DPoP-bound access tokens (RFC 9449).
        response = client.request(method, path, headers=headers, follow_redirects=False)
        return response.status_code == 401 and response.headers.get(
            "WWW-Authenticate", ""
        ).startswith(("DPoP", "Bearer"))
    if path.startswith("/console"):
        response = client.request(method, path, headers={**headers, **HX}, follow_redirects=False)
        return response.status_code == 401 and "/console/login" in response.headers.get(
            "HX-Redirect", ""
        )
    response = client.request(method, path, headers=headers, follow_redirects=False)
    return (
        response.status_code == 401
        and response.headers["content-type"] == "application/problem+json"
        and response.headers.get("WWW-Authenticate") == "Bearer"
    )


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer fbk_000000000000_wrong"},
        {"X-API-Key": "garbage"},
        {"Cookie": "finbridge_session=fbs_forged"},
    ],
    ids=["anonymous", "wrong-key", "garbage-key", "forged-session"],
)
def test_every_route_refuses_without_valid_credentials(
    api_app: FastAPI, headers: dict[str, str]
) -> None:
    client = TestClient(api_app)
    routes = _protected(api_app)
    assert len(routes) >= 20  # the walk found the real routes, not an empty list
    assert ("POST", "/v1/transfers") in routes
    assert ("GET", "/console") in routes
    assert ("GET", "/app") in routes
    assert ("GET", "/open-banking/v1/accounts") in routes
    let_through = [(m, p) for m, p in routes if not _refused(client, m, p, headers)]
    assert let_through == []


def test_anonymous_console_get_redirects_to_login(api_app: FastAPI) -> None:
    client = TestClient(api_app)
    for method, path in _protected(api_app):
        if method == "GET" and path.startswith("/console"):
            response = client.get(path, follow_redirects=False)
            assert response.status_code == 303, path
            assert response.headers["location"].startswith("/console/login?next=")

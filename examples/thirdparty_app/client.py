"""A third party's open-banking client, written as an outside developer would write it:
httpx and joserfc only, nothing from finbridge. It discovers the server, authenticates with
``private_key_jwt``, pushes its authorisation request (PAR) with PKCE S256, binds every token to
its DPoP key, exchanges the code, rotates refresh tokens, reads accounts, balances and
transactions, and initiates payments.

The clock is injectable (``now``) only so a test can drive the server's manual clock; a real
app leaves it as ``time.time``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from joserfc import jwt
from joserfc.jwk import ECKey

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


class OAuthRefused(Exception):
    """The server refused with an OAuth error."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(f"{status} {error}: {description}")
        self.status = status
        self.error = error
        self.description = description


def b64sha256(value: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(value.encode()).digest()).rstrip(b"=").decode()


def new_key() -> ECKey:
    key = ECKey.generate_key("P-256")
    return ECKey.import_key(key.as_dict(private=True), {"kid": key.thumbprint()})


@dataclass
class Tokens:
    access_token: str
    refresh_token: str
    consent_id: str
    expires_in: int


@dataclass
class ThirdPartyApp:
    """One registered app. ``http`` is any httpx client pointed at the bank (a test passes the
    ASGI test client)."""

    http: httpx.Client
    base_url: str
    client_id: str
    signing_key: ECKey
    redirect_uri: str
    dpop_key: ECKey = field(default_factory=new_key)
    now: Callable[[], float] = time.time
    metadata: dict[str, Any] = field(default_factory=dict)
    tokens: Tokens | None = None
    nonce: str | None = None

    # -- registration (a developer's API key, once) ------------------------------------------
    @staticmethod
    def register(
        http: httpx.Client,
        api_key: str,
        *,
        name: str,
        redirect_uri: str,
        signing_key: ECKey,
        scopes: list[str],
        category: str = "budgeting",
        description: str = "",
    ) -> str:
        r = http.post(
            "/v1/openbanking/apps",
            headers={"X-API-Key": api_key},
            json={
                "name": name,
                "developer": name,
                "category": category,
                "description": description,
                "redirect_uris": [redirect_uri],
                "scopes": scopes,
                "jwks": {"keys": [signing_key.as_dict(private=False)]},
            },
        )
        r.raise_for_status()
        return str(r.json()["client_id"])

    # -- the flow --------------------------------------------------------------------------------
    def discover(self) -> dict[str, Any]:
        r = self.http.get(f"{self.base_url}/.well-known/openid-configuration")
        r.raise_for_status()
        self.metadata = r.json()
        return self.metadata

    def push(self, authorization_details: list[dict[str, Any]], *, state: str) -> tuple[str, str]:
        """PAR: returns (the URL to send the customer to, the PKCE verifier to keep)."""
        meta = self.metadata or self.discover()
        verifier = secrets.token_urlsafe(48)
        form = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "state": state,
            "code_challenge": b64sha256(verifier),
            "code_challenge_method": "S256",
            "authorization_details": json.dumps(authorization_details),
            "dpop_jkt": self.dpop_key.thumbprint(),
            **self._assertion(),
        }
        body = self._oauth_post(meta["pushed_authorization_request_endpoint"], form, dpop=False)
        query = urlencode({"client_id": self.client_id, "request_uri": body["request_uri"]})
        return f"{meta['authorization_endpoint']}?{query}", verifier

    def connect(
        self, initiated: str, authorization_details: list[dict[str, Any]], *, state: str
    ) -> tuple[str, str]:
        """The ``/connect`` route (OpenID Connect third-party-initiated login): the bank's app
        store sent the customer to ``initiated`` with ``iss`` and ``target_link_uri``. Only our
        bank's issuer starts a flow, and the target must be on our own origin (no open
        redirect); then we push the request as always."""
        meta = self.metadata or self.discover()
        parts = urlsplit(initiated)
        params = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if params.get("iss") != meta["issuer"]:
            raise OAuthRefused(400, "invalid_request", "login initiated by an unknown issuer")
        target = urlsplit(params.get("target_link_uri", ""))
        if (target.scheme, target.netloc) != (parts.scheme, parts.netloc):
            raise OAuthRefused(400, "invalid_request", "target_link_uri is not ours")
        return self.push(authorization_details, state=state)

    @staticmethod
    def callback(redirected_to: str) -> dict[str, str]:
        """The authorisation response's parameters (``code``, ``state``, ``iss`` or ``error``)."""
        return {k: v[0] for k, v in parse_qs(urlsplit(redirected_to).query).items()}

    def exchange(self, response: dict[str, str], *, verifier: str, state: str) -> Tokens:
        """Checks ``state`` and (RFC 9207) ``iss`` before the code is redeemed."""
        meta = self.metadata or self.discover()
        if response.get("state") != state:
            raise ValueError("state does not match: not our request")
        if response.get("iss") != meta["issuer"]:
            raise ValueError("iss does not match the server we sent the customer to (mix-up)")
        if "error" in response:
            raise OAuthRefused(400, response["error"], "the customer did not authorise")
        form = {
            "grant_type": "authorization_code",
            "code": response["code"],
            "redirect_uri": self.redirect_uri,
            "code_verifier": verifier,
        }
        return self._token(form)

    def refresh(self) -> Tokens:
        assert self.tokens is not None
        return self._token(
            {"grant_type": "refresh_token", "refresh_token": self.tokens.refresh_token}
        )

    def introspect(self, token: str) -> dict[str, Any]:
        meta = self.metadata or self.discover()
        return self._oauth_post(
            meta["introspection_endpoint"], {"token": token, **self._assertion()}, dpop=False
        )

    def revoke(self, token: str) -> None:
        meta = self.metadata or self.discover()
        self._oauth_post(
            meta["revocation_endpoint"], {"token": token, **self._assertion()}, dpop=False
        )

    # -- the bank's APIs -----------------------------------------------------------------------
    def get(self, path: str, **params: str) -> Any:
        return self._resource("GET", path, params=params)

    def pay(
        self, *, amount: str, currency: str, creditor: str, key: str, debtor: str | None = None
    ) -> Any:
        body = {"amount": amount, "currency": currency, "creditor_account": creditor}
        if debtor is not None:
            body["debtor_account"] = debtor
        return self._resource(
            "POST", "/open-banking/v1/payments", json=body, headers={"Idempotency-Key": key}
        )

    def _resource(self, method: str, path: str, **kw: Any) -> Any:
        assert self.tokens is not None, "authorise first"
        url = f"{self.base_url}{path}"
        for _ in range(2):
            headers = {
                "Authorization": f"DPoP {self.tokens.access_token}",
                "DPoP": self.proof(method, url, access_token=self.tokens.access_token),
                **kw.pop("headers", {}),
            }
            r = self.http.request(method, url, headers=headers, **kw)
            if not self._wants_nonce(r):
                break
            kw["headers"] = {k: v for k, v in headers.items() if k not in ("Authorization", "DPoP")}
        if r.status_code >= 400:
            body = r.json()
            raise OAuthRefused(
                r.status_code,
                body.get("error") or body.get("code", "error"),
                body.get("error_description") or body.get("detail", ""),
            )
        return r.json()

    # -- proofs ----------------------------------------------------------------------------------
    def proof(self, method: str, url: str, *, access_token: str | None = None) -> str:
        """A DPoP proof (RFC 9449) for one request, signed by the app's DPoP key."""
        claims: dict[str, Any] = {
            "jti": secrets.token_urlsafe(16),
            "htm": method,
            "htu": url,
            "iat": int(self.now()),
        }
        if access_token is not None:
            claims["ath"] = b64sha256(access_token)
        if self.nonce is not None:
            claims["nonce"] = self.nonce
        header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": self.dpop_key.as_dict(private=False)}
        return jwt.encode(header, claims, self.dpop_key)

    def _assertion(self) -> dict[str, str]:
        """``private_key_jwt``: audience is the issuer identifier (FAPI 2.0), a fresh jti."""
        meta = self.metadata or self.discover()
        issued = int(self.now())
        claims = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": meta["issuer"],
            "jti": secrets.token_urlsafe(16),
            "iat": issued,
            "exp": issued + 60,
        }
        header = {"alg": "ES256", "kid": self.signing_key.kid}
        assertion = jwt.encode(header, claims, self.signing_key)
        return {
            "client_id": self.client_id,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion,
        }

    def _token(self, form: dict[str, str]) -> Tokens:
        meta = self.metadata or self.discover()
        body = self._oauth_post(meta["token_endpoint"], form, dpop=True)
        self.tokens = Tokens(
            body["access_token"], body["refresh_token"], body["consent_id"], body["expires_in"]
        )
        return self.tokens

    def _oauth_post(self, url: str, form: dict[str, str], *, dpop: bool) -> dict[str, Any]:
        for _ in range(2):
            data = dict(form)
            if "client_assertion" not in data:
                data.update(self._assertion())
            headers = {"DPoP": self.proof("POST", url)} if dpop else {}
            r = self.http.post(url, data=data, headers=headers)
            if not self._wants_nonce(r):
                break
            form = {k: v for k, v in form.items() if not k.startswith("client_assertion")}
        if r.status_code >= 400:
            body = r.json()
            raise OAuthRefused(
                r.status_code, body.get("error", "error"), body.get("error_description", "")
            )
        return r.json() if r.content else {}

    def _wants_nonce(self, r: httpx.Response) -> bool:
        nonce = r.headers.get("DPoP-Nonce")
        if nonce is not None:
            self.nonce = nonce
        return r.status_code in (400, 401) and nonce is not None and "use_dpop_nonce" in r.text

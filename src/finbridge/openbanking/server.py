"""The authorisation server to the FAPI 2.0 security profile: pushed authorisation requests
(RFC 9126, required), authorisation code + PKCE S256 only, ``private_key_jwt`` client
authentication, DPoP-bound tokens (RFC 9449), ``iss`` in the authorisation response (RFC 9207),
single-use codes whose reuse revokes what they issued, refresh-token rotation with reuse
detection, introspection (RFC 7662) and revocation (RFC 7009).

Tokens: the access token is a JWT (RFC 9068, ``typ`` ``at+jwt``) signed with the server's key
and carrying ``cnf.jkt``; it is also recorded (by ``jti``) so revocation is immediate. Refresh
tokens and codes are opaque; only their SHA-256 hashes are stored.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from joserfc import jwt
from joserfc.jwk import ECKey
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from finbridge.core.clock import Clock
from finbridge.core.errors import NotFound, PermissionDenied, ValidationError
from finbridge.core.ids import new_id
from finbridge.core.principal import Principal, PrincipalKind
from finbridge.lake import Event, emit
from finbridge.openbanking.apps import App, AppRegistry, AppStatus, may_manage
from finbridge.openbanking.audit import AuditTrail
from finbridge.openbanking.beneficiary import check as check_beneficiary
from finbridge.openbanking.consents import (
    CROSS_BORDER,
    SCOPE_OF,
    SINGLE_PAYMENTS,
    Consent,
    ConsentKind,
    ConsentStatus,
    aware,
    effective_status,
    parse_request,
)
from finbridge.openbanking.errors import (
    OAuthError,
    invalid_dpop,
    invalid_grant,
    invalid_request,
    invalid_token,
)
from finbridge.openbanking.ports import SecondFactorPort
from finbridge.openbanking.proofs import ClientAssertionCheck, DPoPCheck, b64sha256
from finbridge.openbanking.tables import AppRow, CodeRow, ConsentRow, PushedRequestRow, TokenRow
from finbridge.openbanking.webhooks import enqueue
from finbridge.store.engine import unit_of_work

REQUEST_URI_PREFIX = "urn:ietf:params:oauth:request_uri:"
PAYMENT_CONSENT_ACTION = "openbanking.payment_consent"
_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")  # base64url of a SHA-256 digest
_VERIFIER = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")  # RFC 7636 section 4.1


def token_hash(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Lifetimes:
    access: timedelta
    refresh: timedelta
    code: timedelta
    request: timedelta


@dataclass(frozen=True, slots=True)
class PendingAuthorisation:
    """What the consent screen shows: the app, the exact request, the customer's choices."""

    request_id: str
    app: App
    consent: Consent


@dataclass(frozen=True, slots=True)
class Grant:
    """A verified resource request: the token's consent, bound key and client."""

    token_id: str
    client_id: str
    customer_id: str
    consent: Consent
    jkt: str
    sandbox: bool = False  # the token's sandbox marker: served from the synthetic sandbox only
    developer: str = ""  # the app's developer: a sandbox grant reads only that one's sandbox


class AuthorizationServer:
    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        *,
        issuer: str,
        key: ECKey,
        apps: AppRegistry,
        assertions: ClientAssertionCheck,
        dpop: DPoPCheck,
        audit: AuditTrail,
        second_factor: SecondFactorPort,
        lifetimes: Lifetimes,
        beneficiary_rule: Callable[[Mapping[str, Any]], None] | None = None,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self.issuer = issuer
        self._key = key
        self._apps = apps
        self._assertions = assertions
        self.dpop = dpop
        self._audit = audit
        self._second_factor = second_factor
        self._life = lifetimes
        self._beneficiary_rule = beneficiary_rule  # payments' rule, through its port

    # -- endpoints ----------------------------------------------------------------------------
    @property
    def endpoints(self) -> dict[str, str]:
        base = self.issuer.rstrip("/")
        return {
            "pushed_authorization_request_endpoint": f"{base}/oauth2/par",
            "authorization_endpoint": f"{base}/oauth2/authorize",
            "token_endpoint": f"{base}/oauth2/token",
            "introspection_endpoint": f"{base}/oauth2/introspect",
            "revocation_endpoint": f"{base}/oauth2/revoke",
            "jwks_uri": f"{base}/oauth2/jwks",
        }

    def metadata(self) -> dict[str, Any]:
        """RFC 8414 / OpenID discovery metadata, limited to what this server does."""
        auth_methods = ["private_key_jwt"]
        algs = ["ES256", "PS256", "EdDSA"]
        return {
            "issuer": self.issuer,
            **self.endpoints,
            "require_pushed_authorization_requests": True,
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": auth_methods,
            "token_endpoint_auth_signing_alg_values_supported": algs,
            "introspection_endpoint_auth_methods_supported": auth_methods,
            "revocation_endpoint_auth_methods_supported": auth_methods,
            "dpop_signing_alg_values_supported": algs,
            "authorization_response_iss_parameter_supported": True,
            "authorization_details_types_supported": [k.value for k in ConsentKind],
            "scopes_supported": ["accounts", "payments"],
            "id_token_signing_alg_values_supported": ["ES256"],
            "subject_types_supported": ["public"],
        }

    # -- pushed authorisation request ---------------------------------------------------------
    def push(self, form: Mapping[str, str], *, dpop_proof: str | None) -> dict[str, Any]:
        client_id = self._client(form, "par")
        try:
            return self._push(client_id, form, dpop_proof)
        except OAuthError as exc:
            self._audit.record("par", exc.error, exc.detail, client_id=client_id)
            raise

    def _push(
        self, client_id: str, form: Mapping[str, str], dpop_proof: str | None
    ) -> dict[str, Any]:
        app = self._approved(client_id)
        if "request_uri" in form:
            raise invalid_request("request_uri may not be pushed", "request_uri")
        if form.get("response_type") != "code":
            raise OAuthError("unsupported_response_type", "only response_type=code is supported")
        redirect_uri = form.get("redirect_uri", "")
        if redirect_uri not in app.redirect_uris:  # exact string match: no slash, port, case games
            raise invalid_request("redirect_uri is not registered for this client", "redirect_uri")
        if form.get("code_challenge_method") != "S256":
            raise invalid_request(
                "PKCE with code_challenge_method=S256 is required", "code_challenge_method"
            )
        challenge = form.get("code_challenge", "")
        if not _CHALLENGE.match(challenge):
            raise invalid_request(
                "code_challenge must be a base64url SHA-256 value", "code_challenge"
            )
        state = form.get("state")
        if state is not None and len(state) > 500:
            raise invalid_request("state is longer than 500 characters", "state")
        now = self._clock.now()
        try:
            request = parse_request(form.get("authorization_details"), now)
            if request.beneficiary is not None:  # in full now: the consent lives for months
                check_beneficiary(request.beneficiary, self._beneficiary_rule)
        except ValidationError as exc:
            named = f"{exc.field}: {exc.detail}" if exc.field else exc.detail
            raise OAuthError("invalid_authorization_details", named, field=exc.field) from None
        scope = SCOPE_OF[request.kind]
        if scope not in app.scopes:
            raise OAuthError("invalid_scope", f"the app is not registered for the {scope} scope")
        jkt = form.get("dpop_jkt")
        if dpop_proof is not None:
            proof = self.dpop.verify(
                dpop_proof,
                method="POST",
                url=self.endpoints["pushed_authorization_request_endpoint"],
            )
            if jkt is not None and jkt != proof.jkt:
                raise invalid_dpop("dpop_jkt does not match the proof's key")
            jkt = proof.jkt
        request_id = secrets.token_urlsafe(32)
        consent = ConsentRow(
            id=new_id(),
            client_id=client_id,
            customer_id=None,
            kind=request.kind.value,
            status=ConsentStatus.AWAITING_AUTHORISATION.value,
            permissions=list(request.permissions),
            account_ids=[],
            from_date=request.from_date,
            to_date=request.to_date,
            currency=request.currency,
            creditor_account_id=request.creditor_account_id,
            amount_minor=request.amount_minor,
            max_per_payment_minor=request.max_per_payment_minor,
            max_total_minor=request.max_total_minor,
            beneficiary=request.beneficiary,
            expires_at=request.expires_at,
            created_at=now,
            status_changed_at=now,
        )
        with unit_of_work(self._engine) as session:
            session.add(consent)
            session.add(
                PushedRequestRow(
                    id=request_id,
                    client_id=client_id,
                    consent_id=consent.id,
                    redirect_uri=redirect_uri,
                    state=state,
                    code_challenge=challenge,
                    dpop_jkt=jkt,
                    expires_at=now + self._life.request,
                    used_at=None,
                )
            )
        self._audit.record(
            "par", "ok", request.kind.value, client_id=client_id, consent_id=consent.id
        )
        return {
            "request_uri": REQUEST_URI_PREFIX + request_id,
            "expires_in": int(self._life.request.total_seconds()),
        }

    # -- authorisation endpoint and the customer's decision ------------------------------------
    def authorisation_request(self, query: Mapping[str, str]) -> str:
        """The pushed request's id for the consent screen. Only ``client_id`` and ``request_uri``
        are read: parameters not pushed are never trusted (FAPI 2.0)."""
        client_id = query.get("client_id", "")
        request_uri = query.get("request_uri", "")
        if not request_uri.startswith(REQUEST_URI_PREFIX):
            self._audit.record(
                "authorize", "invalid_request", "request not pushed", client_id=client_id or None
            )
            raise invalid_request(
                "the authorisation request must be pushed first (PAR)", "request_uri"
            )
        request_id = request_uri.removeprefix(REQUEST_URI_PREFIX)
        with unit_of_work(self._engine, write=False) as session:
            pushed = session.get(PushedRequestRow, request_id)
        if pushed is None or pushed.client_id != client_id:
            self._audit.record(
                "authorize", "invalid_request_uri", "unknown", client_id=client_id or None
            )
            raise OAuthError("invalid_request_uri", "unknown request_uri for this client")
        if pushed.used_at is not None or aware(pushed.expires_at) <= self._clock.now():
            self._audit.record(
                "authorize", "invalid_request_uri", "used or expired", client_id=client_id
            )
            raise OAuthError("invalid_request_uri", "the request_uri was used or has expired")
        return request_id

    def pending(self, actor: Principal, request_id: str) -> PendingAuthorisation:
        _customer(actor)
        with unit_of_work(self._engine, write=False) as session:
            pushed = session.get(PushedRequestRow, request_id)
            consent = None if pushed is None else session.get(ConsentRow, pushed.consent_id)
        now = self._clock.now()
        if pushed is None or consent is None or pushed.used_at is not None:
            raise NotFound("no such authorisation request", field="request_id")
        if (
            aware(pushed.expires_at) <= now
            or effective_status(consent, now) is not ConsentStatus.AWAITING_AUTHORISATION
        ):
            raise NotFound("the authorisation request has expired", field="request_id")
        app = self._apps.find(pushed.client_id)
        if app is None or app.sandbox:  # a sandbox app never sees a real customer's accounts
            raise NotFound("no such app", field="client_id")
        return PendingAuthorisation(request_id, app, Consent.of(consent))

    def approve(
        self,
        actor: Principal,
        request_id: str,
        account_ids: Sequence[str],
        *,
        banking_accounts: Mapping[str, str],
    ) -> str:
        """The customer authorises: the consent gets the chosen accounts, the app a code.

        ``banking_accounts`` maps each of the customer's own open account ids to its currency
        (read through banking with the customer's principal by the caller). Returns the
        redirect URL (``code``, ``state``, ``iss``).
        """
        pending = self.pending(actor, request_id)
        consent = pending.consent
        chosen = list(dict.fromkeys(account_ids))
        if not chosen:
            raise ValidationError("choose at least one account", field="account_ids")
        for account_id in chosen:
            if account_id not in banking_accounts:
                raise NotFound("no such account", field="account_ids")
        if consent.kind is not ConsentKind.ACCOUNT_ACCESS:
            if len(chosen) != 1:
                raise ValidationError("choose the one account to pay from", field="account_ids")
            if (
                banking_accounts[chosen[0]]
                != (consent.amount or consent.max_total or _never()).code
            ):
                raise ValidationError(
                    "the account is not in the payment's currency", field="account_ids"
                )
            # Payments need a fresh second factor in the customer's session.
            self._second_factor.require_step_up(actor, PAYMENT_CONSENT_ACTION, demanded=True)
        return self._authorise(request_id, consent, _customer(actor), chosen)

    def approve_sandbox(
        self,
        actor: Principal,
        request_uri: str,
        client_id: str,
        customer_id: str,
        account_ids: Sequence[str],
        *,
        sandbox_accounts: Mapping[str, str],
        creditor_accounts: Mapping[str, str],
    ) -> str:
        """The sandbox's consent step: the app's developer authorises as a synthetic customer
        (``sandbox_accounts``: that customer's sandbox accounts and currencies;
        ``creditor_accounts``: every sandbox account, what a payment may pay to). Sandbox apps
        only, account access and domestic payments; returns the redirect URL like the
        customer's approval."""
        request_id = self.authorisation_request(
            {"client_id": client_id, "request_uri": request_uri}
        )
        app = self._apps.find(client_id)
        with unit_of_work(self._engine, write=False) as session:
            owned = session.get(AppRow, client_id)
            pushed = session.get(PushedRequestRow, request_id)
            row = None if pushed is None else session.get(ConsentRow, pushed.consent_id)
        if app is None or owned is None or not app.sandbox or not may_manage(actor, owned):
            raise NotFound("no such sandbox app", field="client_id")
        if row is None or effective_status(row, self._clock.now()) is not (
            ConsentStatus.AWAITING_AUTHORISATION
        ):
            raise NotFound("the authorisation request has expired", field="request_uri")
        consent = Consent.of(row)
        if consent.kind in CROSS_BORDER:
            raise ValidationError(
                "the sandbox pays between its own synthetic accounts only (no payments abroad)",
                field="authorization_details",
            )
        chosen = list(dict.fromkeys(account_ids))
        if not chosen or any(a not in sandbox_accounts for a in chosen):
            raise NotFound("no such sandbox account for this customer", field="account_ids")
        if consent.kind is not ConsentKind.ACCOUNT_ACCESS:
            # The same checks as a customer's payment consent, with synthetic accounts on both
            # sides: the creditor too must be a sandbox account, so no real one is ever named.
            # No step-up: the developer decides for a synthetic customer, not a person.
            currency = (consent.amount or consent.max_total or _never()).code
            if len(chosen) != 1:
                raise ValidationError("choose the one account to pay from", field="account_ids")
            if sandbox_accounts[chosen[0]] != currency:
                raise ValidationError(
                    "the account is not in the payment's currency", field="account_ids"
                )
            creditor = consent.creditor_account_id or ""
            if creditor_accounts.get(creditor) != currency or creditor == chosen[0]:
                raise NotFound(
                    "the creditor must be another sandbox account in the payment's currency",
                    field="authorization_details.creditor_account",
                )
        return self._authorise(request_id, consent, customer_id, chosen)

    def _authorise(
        self, request_id: str, consent: Consent, customer_id: str, chosen: list[str]
    ) -> str:
        """Authorise the consent for ``customer_id`` and its chosen accounts; the code."""
        code = secrets.token_urlsafe(32)
        now = self._clock.now()
        with unit_of_work(self._engine) as session:
            pushed = _locked(session, PushedRequestRow, request_id)
            row = _locked(session, ConsentRow, consent.id)
            if pushed is None or row is None or pushed.used_at is not None:
                raise NotFound("no such authorisation request", field="request_id")
            pushed.used_at = now
            row.customer_id = customer_id
            row.account_ids = chosen
            self._set_status(session, row, ConsentStatus.AUTHORISED, now)
            session.add(
                CodeRow(
                    code_hash=token_hash(code),
                    client_id=pushed.client_id,
                    consent_id=row.id,
                    customer_id=row.customer_id,
                    redirect_uri=pushed.redirect_uri,
                    code_challenge=pushed.code_challenge,
                    dpop_jkt=pushed.dpop_jkt,
                    expires_at=now + self._life.code,
                    used_at=None,
                )
            )
            redirect, state = pushed.redirect_uri, pushed.state
        self._audit.record(
            "consent.authorise",
            "ok",
            ",".join(chosen),
            client_id=consent.client_id,
            customer_id=customer_id,
            consent_id=consent.id,
        )
        return _redirect(redirect, {"code": code, "state": state, "iss": self.issuer})

    def reject(self, actor: Principal, request_id: str) -> str:
        pending = self.pending(actor, request_id)
        now = self._clock.now()
        with unit_of_work(self._engine) as session:
            pushed = _locked(session, PushedRequestRow, request_id)
            row = _locked(session, ConsentRow, pending.consent.id)
            if pushed is None or row is None or pushed.used_at is not None:
                raise NotFound("no such authorisation request", field="request_id")
            pushed.used_at = now
            row.customer_id = _customer(actor)
            self._set_status(session, row, ConsentStatus.REJECTED, now)
            redirect, state = pushed.redirect_uri, pushed.state
        self._audit.record(
            "consent.reject",
            "ok",
            "",
            client_id=pending.app.client_id,
            customer_id=actor.customer_id,
            consent_id=pending.consent.id,
        )
        return _redirect(redirect, {"error": "access_denied", "state": state, "iss": self.issuer})

    # -- token endpoint -----------------------------------------------------------------------
    def token(self, form: Mapping[str, str], *, dpop_proof: str | None) -> dict[str, Any]:
        client_id = self._client(form, "token")
        try:
            self._approved(client_id)
            proof = self.dpop.verify(
                dpop_proof, method="POST", url=self.endpoints["token_endpoint"]
            )
            grant_type = form.get("grant_type")
            if grant_type == "authorization_code":
                return self._exchange_code(client_id, form, proof.jkt)
            if grant_type == "refresh_token":
                return self._refresh(client_id, form, proof.jkt)
            raise OAuthError("unsupported_grant_type", "authorization_code or refresh_token only")
        except OAuthError as exc:
            self._audit.record("token", exc.error, exc.detail, client_id=client_id)
            raise

    def _exchange_code(self, client_id: str, form: Mapping[str, str], jkt: str) -> dict[str, Any]:
        code = form.get("code", "")
        verifier = form.get("code_verifier", "")
        now = self._clock.now()
        refusal: OAuthError | None = None
        with unit_of_work(self._engine) as session:
            row = _locked(session, CodeRow, token_hash(code))
            if row is None or row.client_id != client_id:
                raise invalid_grant("unknown authorisation code")
            if row.used_at is not None:
                # A code presented twice was probably stolen: revoke what it issued (RFC 9700).
                revoked = self._revoke_family(session, row.code_hash, now)
                refusal = invalid_grant(
                    f"the authorisation code was already used; {revoked} tokens revoked"
                )
            elif aware(row.expires_at) <= now:
                refusal = invalid_grant("the authorisation code has expired")
            elif form.get("redirect_uri") != row.redirect_uri:
                refusal = invalid_grant("redirect_uri does not match the authorisation request")
            elif not _VERIFIER.match(verifier) or not hmac.compare_digest(
                b64sha256(verifier), row.code_challenge
            ):
                refusal = invalid_grant("the PKCE code_verifier does not match the code_challenge")
            elif row.dpop_jkt is not None and row.dpop_jkt != jkt:
                refusal = invalid_dpop("the proof's key is not the one the code was bound to")
            else:
                row.used_at = now
                consent = session.get(ConsentRow, row.consent_id)
                if (
                    consent is None
                    or effective_status(consent, now) is not ConsentStatus.AUTHORISED
                ):
                    raise invalid_grant("the consent is no longer authorised")
                issued = self._issue(session, consent, jkt, family=row.code_hash, now=now)
        if refusal is not None:
            raise refusal
        self._audit.record(
            "token.code",
            "ok",
            "",
            client_id=client_id,
            consent_id=row.consent_id,
            customer_id=row.customer_id,
        )
        return issued

    def _refresh(self, client_id: str, form: Mapping[str, str], jkt: str) -> dict[str, Any]:
        now = self._clock.now()
        refusal: OAuthError | None = None
        with unit_of_work(self._engine) as session:
            row = session.scalars(
                select(TokenRow)
                .where(TokenRow.token_hash == token_hash(form.get("refresh_token", "")))
                .with_for_update()
            ).first()
            if row is None or row.kind != "refresh" or row.client_id != client_id:
                raise invalid_grant("unknown refresh token")
            if row.revoked_at is not None:
                refusal = invalid_grant("the refresh token was revoked")
            elif row.rotated_at is not None:
                # A rotated refresh token came back: one of the two holders is an attacker.
                revoked = self._revoke_family(session, row.family, now)
                refusal = invalid_grant(
                    f"the refresh token was already used; {revoked} tokens revoked"
                )
            elif aware(row.expires_at) <= now:
                refusal = invalid_grant("the refresh token has expired")
            elif row.jkt != jkt:
                refusal = invalid_dpop(
                    "the proof's key is not the one the refresh token is bound to"
                )
            else:
                consent = session.get(ConsentRow, row.consent_id)
                if (
                    consent is None
                    or effective_status(consent, now) is not ConsentStatus.AUTHORISED
                ):
                    raise invalid_grant("the consent is no longer authorised")
                row.rotated_at = now
                issued = self._issue(session, consent, jkt, family=row.family, now=now)
        if refusal is not None:
            raise refusal
        self._audit.record(
            "token.refresh", "ok", "", client_id=client_id, consent_id=row.consent_id
        )
        return issued

    def _issue(
        self, session: Session, consent: ConsentRow, jkt: str, *, family: str, now: datetime
    ) -> dict[str, Any]:
        scope = SCOPE_OF[ConsentKind(consent.kind)]
        customer_id = consent.customer_id or ""
        access_id = new_id()
        claims = {
            "iss": self.issuer,
            "sub": customer_id,
            "aud": self.issuer,
            "client_id": consent.client_id,
            "scope": scope,
            "consent_id": consent.id,
            "jti": access_id,
            "iat": int(now.timestamp()),
            "exp": int((now + self._life.access).timestamp()),
            "cnf": {"jkt": jkt},
        }
        app = self._apps.find(consent.client_id)
        if app is not None and app.sandbox:
            claims["sandbox"] = True  # the marker: resource calls are served from the sandbox
        access = jwt.encode(
            {"alg": "ES256", "typ": "at+jwt", "kid": self._key.kid}, claims, self._key
        )
        refresh = secrets.token_urlsafe(32)
        common = {
            "family": family,
            "client_id": consent.client_id,
            "consent_id": consent.id,
            "customer_id": customer_id,
            "jkt": jkt,
            "scope": scope,
            "created_at": now,
        }
        session.add(
            TokenRow(
                id=access_id,
                token_hash=token_hash(access),
                kind="access",
                expires_at=now + self._life.access,
                **common,
            )
        )
        session.add(
            TokenRow(
                id=new_id(),
                token_hash=token_hash(refresh),
                kind="refresh",
                expires_at=min(now + self._life.refresh, aware(consent.expires_at)),
                **common,
            )
        )
        return {
            "access_token": access,
            "token_type": "DPoP",
            "expires_in": int(self._life.access.total_seconds()),
            "refresh_token": refresh,
            "scope": scope,
            "consent_id": consent.id,
        }

    def _revoke_family(self, session: Session, family: str, now: datetime) -> int:
        result = session.execute(
            update(TokenRow)
            .where(TokenRow.family == family, TokenRow.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    # -- introspection and revocation ---------------------------------------------------------
    def introspect(self, form: Mapping[str, str]) -> dict[str, Any]:
        client_id = self._client(form, "introspect")
        now = self._clock.now()
        with unit_of_work(self._engine, write=False) as session:
            row = session.scalars(
                select(TokenRow).where(TokenRow.token_hash == token_hash(form.get("token", "")))
            ).first()
            consent = None if row is None else session.get(ConsentRow, row.consent_id)
        # Another client's token is reported inactive: an app learns nothing about others'.
        if (
            row is None
            or consent is None
            or row.client_id != client_id
            or row.revoked_at is not None
            or row.rotated_at is not None
            or aware(row.expires_at) <= now
            or effective_status(consent, now) is not ConsentStatus.AUTHORISED
        ):
            return {"active": False}
        return {
            "active": True,
            "client_id": row.client_id,
            "scope": row.scope,
            "sub": row.customer_id,
            "token_type": "DPoP" if row.kind == "access" else "refresh_token",
            "exp": int(aware(row.expires_at).timestamp()),
            "iat": int(aware(row.created_at).timestamp()),
            "iss": self.issuer,
            "cnf": {"jkt": row.jkt},
            "consent_id": row.consent_id,
        }

    def revoke(self, form: Mapping[str, str]) -> None:
        client_id = self._client(form, "revoke")
        now = self._clock.now()
        with unit_of_work(self._engine) as session:
            row = session.scalars(
                select(TokenRow).where(TokenRow.token_hash == token_hash(form.get("token", "")))
            ).first()
            if row is None or row.client_id != client_id:
                return  # RFC 7009: unknown tokens are answered 200 too
            if row.kind == "refresh":
                self._revoke_family(session, row.family, now)
            elif row.revoked_at is None:
                row.revoked_at = now
        self._audit.record("revoke", "ok", row.kind, client_id=client_id, consent_id=row.consent_id)

    # -- resource requests --------------------------------------------------------------------
    def verify_access(
        self, authorization: str | None, dpop_proof: str | None, *, method: str, url: str
    ) -> Grant:
        """Token, proof of possession and consent for one resource request, or an OAuth error."""
        try:
            return self._verify_access(authorization, dpop_proof, method=method, url=url)
        except OAuthError as exc:
            self._audit.record("resource", exc.error, f"{method} {url}: {exc.detail}")
            raise

    def token_client(self, authorization: str | None) -> str | None:
        """The app an access token was issued to, if the token is one we signed (expired or
        not): attributes a refused resource call to its app in the usage counts. Grants no
        access: ``verify_access`` alone decides that."""
        _, _, token = (authorization or "").partition(" ")
        try:
            decoded = jwt.decode(token, self._key, algorithms=["ES256"])
        except Exception:
            return None
        client_id = decoded.claims.get("client_id")
        if decoded.claims.get("iss") != self.issuer or not isinstance(client_id, str):
            return None
        return client_id

    def _verify_access(
        self, authorization: str | None, dpop_proof: str | None, *, method: str, url: str
    ) -> Grant:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() == "bearer":
            raise invalid_token(
                "this token is DPoP-bound: send it with the DPoP scheme and a proof"
            )
        if scheme.lower() != "dpop" or not token:
            raise OAuthError(
                "invalid_token", "an access token is required", status=401, scheme="DPoP"
            )
        try:
            decoded = jwt.decode(token, self._key, algorithms=["ES256"])
        except Exception:
            raise invalid_token("the access token is not valid") from None
        claims = decoded.claims
        now = self._clock.now()
        if decoded.header.get("typ") != "at+jwt" or claims.get("iss") != self.issuer:
            raise invalid_token("the access token is not one of ours")
        if not isinstance(claims.get("exp"), int) or claims["exp"] <= now.timestamp():
            raise invalid_token("the access token has expired")
        proof = self.dpop.verify(
            dpop_proof, method=method, url=url, access_token=token, resource=True
        )
        bound = (claims.get("cnf") or {}).get("jkt")
        if proof.jkt != bound:
            raise invalid_dpop(
                "the proof is signed by a key the token is not bound to", resource=True
            )
        with unit_of_work(self._engine, write=False) as session:
            row = session.get(TokenRow, claims.get("jti"))
            consent = None if row is None else session.get(ConsentRow, row.consent_id)
        if row is None or consent is None or row.revoked_at is not None:
            raise invalid_token("the access token was revoked")
        app = self._apps.find(row.client_id)
        if app is None or app.status is not AppStatus.APPROVED:
            raise invalid_token("the app is suspended")  # suspension cuts access at once
        if claims.get("sandbox", False) is not app.sandbox:
            raise invalid_token("the token's sandbox marker does not match its app")
        status = effective_status(consent, now)
        if status is ConsentStatus.EXPIRED and consent.status != status.value:
            self._expire(consent.id)
        # A consumed payment consent still lets its app read what it paid (and retry).
        readable = status is ConsentStatus.CONSUMED and ConsentKind(consent.kind) in SINGLE_PAYMENTS
        if status is not ConsentStatus.AUTHORISED and not readable:
            raise invalid_token(f"the consent is {status.value}")
        return Grant(
            row.id, row.client_id, row.customer_id, Consent.of(consent), row.jkt, app.sandbox,
            app.owner_id or "",
        )  # fmt: skip

    # -- consent lifecycle --------------------------------------------------------------------
    def consents(
        self,
        actor: Principal,
        *,
        customer_id: str | None = None,
        client_id: str | None = None,
        limit: int = 100,
    ) -> list[Consent]:
        """A customer's own consents; operators (``openbanking:read``) search by customer/app."""
        if actor.kind is PrincipalKind.CUSTOMER:
            customer_id = _customer(actor)
        else:
            actor.require_scope("openbanking:read")
        stmt = select(ConsentRow).order_by(ConsentRow.created_at.desc()).limit(min(limit, 500))
        if customer_id is not None:
            stmt = stmt.where(ConsentRow.customer_id == customer_id)
        if client_id is not None:
            stmt = stmt.where(ConsentRow.client_id == client_id)
        now = self._clock.now()
        with unit_of_work(self._engine, write=False) as session:
            rows = session.scalars(stmt).all()
        return [
            Consent.of(r)
            if effective_status(r, now).value == r.status
            else _with_status(Consent.of(r), effective_status(r, now))
            for r in rows
        ]

    def consent_for_client(self, client_id: str, consent_id: str) -> Consent:
        """An app's own consent; another app's is answered as unknown."""
        with unit_of_work(self._engine, write=False) as session:
            row = session.get(ConsentRow, consent_id)
        if row is None or row.client_id != client_id:
            self._audit.record(
                "consent.read",
                "not_found",
                "another app's or unknown consent",
                client_id=client_id,
                consent_id=consent_id,
            )
            raise NotFound("no such consent", field="consent_id")
        status = effective_status(row, self._clock.now())
        return _with_status(Consent.of(row), status)

    def revoke_consent(self, actor: Principal, consent_id: str) -> Consent:
        """The customer (or an operator with ``openbanking:admin``) revokes a grant: the consent
        and every token issued under it stop working at once."""
        now = self._clock.now()
        with unit_of_work(self._engine) as session:
            row = _locked(session, ConsentRow, consent_id)
            if row is None or not _may_manage(actor, row):
                raise NotFound("no such consent", field="consent_id")
            if effective_status(row, now) is not ConsentStatus.AUTHORISED:
                raise ValidationError(
                    f"the consent is {effective_status(row, now).value}", field="consent_id"
                )
            self._set_status(session, row, ConsentStatus.REVOKED, now)
            session.execute(
                update(TokenRow)
                .where(TokenRow.consent_id == row.id, TokenRow.revoked_at.is_(None))
                .values(revoked_at=now)
            )
        self._audit.record(
            "consent.revoke",
            "ok",
            f"by {actor.kind.value}",
            client_id=row.client_id,
            customer_id=row.customer_id,
            consent_id=row.id,
        )
        return Consent.of(row)

    def revoke_all(self, actor: Principal) -> int:
        """Every live grant of the signed-in customer, at once."""
        live = [c for c in self.consents(actor, limit=500) if c.status is ConsentStatus.AUTHORISED]
        for consent in live:
            self.revoke_consent(actor, consent.id)
        return len(live)

    def mark_consumed(self, consent_id: str) -> None:
        with unit_of_work(self._engine) as session:
            row = _locked(session, ConsentRow, consent_id)
            if row is not None and row.status == ConsentStatus.AUTHORISED.value:
                self._set_status(session, row, ConsentStatus.CONSUMED, self._clock.now())

    def _expire(self, consent_id: str) -> None:
        now = self._clock.now()
        with unit_of_work(self._engine) as session:
            row = _locked(session, ConsentRow, consent_id)
            if (
                row is not None
                and effective_status(row, now) is ConsentStatus.EXPIRED
                and row.status != "expired"
            ):
                self._set_status(session, row, ConsentStatus.EXPIRED, now)
        self._audit.record("consent.expire", "ok", "", consent_id=consent_id)

    def _set_status(
        self, session: Session, row: ConsentRow, status: ConsentStatus, now: datetime
    ) -> None:
        row.status = status.value
        row.status_changed_at = now
        enqueue(
            session,
            row.client_id,
            "consent.status_changed",
            {"consent_id": row.id, "kind": row.kind, "status": status.value},
            now,
        )
        emit(
            session,
            Event(
                event_type="openbanking.consent_changed",
                occurred_at=now,
                source="openbanking",
                subject_id=row.customer_id,
                payload={
                    "consent_id": row.id,
                    "client_id": row.client_id,
                    "kind": row.kind,
                    "status": status.value,
                },
            ).validated(),
        )

    # -- helpers ------------------------------------------------------------------------------
    def _client(self, form: Mapping[str, str], action: str) -> str:
        try:
            return self._assertions.verify(form, self._apps.approved_jwks)
        except OAuthError as exc:
            self._audit.record(
                action, exc.error, exc.detail, client_id=(form.get("client_id") or None)
            )
            raise

    def _approved(self, client_id: str) -> App:
        app = self._apps.find(client_id)
        if app is None or app.status is not AppStatus.APPROVED:
            raise OAuthError("invalid_client", "the client is not approved", status=401)
        return app


def _customer(actor: Principal) -> str:
    if actor.kind is not PrincipalKind.CUSTOMER or actor.customer_id is None:
        raise PermissionDenied("only the customer can decide on an authorisation request")
    return actor.customer_id


def _may_manage(actor: Principal, row: ConsentRow) -> bool:
    if actor.kind is PrincipalKind.CUSTOMER:
        return row.customer_id is not None and actor.customer_id == row.customer_id
    return actor.has_scope("openbanking:admin")


def _locked(session: Session, entity: type[Any], key: str) -> Any:
    # SELECT ... FOR UPDATE on PostgreSQL; SQLite's BEGIN IMMEDIATE already serialises writers.
    return session.get(entity, key, with_for_update=True)


def _redirect(uri: str, params: Mapping[str, str | None]) -> str:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return f"{uri}{'&' if '?' in uri else '?'}{query}"


def _with_status(consent: Consent, status: ConsentStatus) -> Consent:
    from dataclasses import replace

    return replace(consent, status=status)


def _never() -> Any:
    raise ValidationError("a payment consent without an amount", field="authorization_details")

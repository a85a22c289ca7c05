"""Open banking over HTTP.

Three routers:
- ``oauth_router``: discovery (``/.well-known/openid-configuration``) and the authorisation
  server (``/oauth2/par|authorize|token|introspect|revoke|jwks``). These sit at the root, not
  under ``/v1``: discovery's path is fixed by RFC 8414, and the issuer's endpoints are part of
  its published metadata, not of our versioned API.
- ``open_router``: the third-party APIs ``/open-banking/v1/...`` (versioned by their own
  standard's path), authenticated by a DPoP-bound access token, never by our API keys.
- ``router``: operators' and developers' ``/v1/openbanking/...`` (apps, approvals, consents,
  audit, a developer's sandbox and its reset).

OAuth refusals are answered as OAuth clients expect (``{"error", "error_description"}`` with
``WWW-Authenticate``/``DPoP-Nonce`` headers); every other error is problem+json as elsewhere.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from finbridge.api.deps import PlatformDep, PrincipalDep
from finbridge.api.ratelimit import limit_by_ip, limiter_of
from finbridge.core.errors import FinbridgeError, RateLimited, ValidationError
from finbridge.core.money import Money
from finbridge.openbanking import (
    LOGO_HEADERS,
    RATE_LIMITED,
    SERVED,
    App,
    AppStatus,
    Consent,
    Grant,
    OAuthError,
    Payment,
    Sandbox,
    SandboxCustomer,
    Usage,
    refused,
)
from finbridge.platform import Platform

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


def _oauth_rendered(handler: Handler) -> Handler:
    async def guarded(request: Request) -> Response:
        try:
            return await handler(request)
        except OAuthError as exc:
            return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers())

    return guarded


class OAuthRoute(APIRoute):
    """Renders :class:`OAuthError` the OAuth way; anything else goes to the problem handlers."""

    def get_route_handler(self) -> Handler:
        return _oauth_rendered(super().get_route_handler())


@dataclass
class _Tap:
    """One third-party call's app, filled by ``_grant`` once known (a shared object, so the
    thread pool's copy of the context fills the same one)."""

    platform: Platform | None = None
    client_id: str | None = None
    authorization: str | None = None


_TAP: ContextVar[_Tap | None] = ContextVar("openbanking_usage_tap", default=None)
# The resource each third-party endpoint counts under (usage metrics).
_RESOURCES = {
    "ob_accounts": "accounts",
    "ob_balance": "balances",
    "ob_transactions": "transactions",
    "ob_create_payment": "payment_initiation",
    "ob_payment": "payment_status",
    "ob_consent": "consent",
}
_FLUSHES: set[asyncio.Future[None]] = set()


def _outcome(exc: BaseException | None, status: int) -> str:
    if isinstance(exc, RateLimited):
        return RATE_LIMITED
    if isinstance(exc, OAuthError):
        return refused(exc.error)
    if isinstance(exc, FinbridgeError):
        return refused(exc.code)
    if isinstance(exc, RequestValidationError):
        return refused("validation_error")
    if exc is not None:
        return refused("server_error")
    return SERVED if status < 400 else refused(str(status))


class MeteredRoute(APIRoute):
    """A third-party API route: counts each call for its app (served, refused with its error,
    rate-limited), then renders OAuth errors as ``OAuthRoute`` does. A call whose token is not
    one of ours is counted for no app: it cannot be told apart from noise."""

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()
        resource = _RESOURCES.get(self.name, self.name)

        async def metered(request: Request) -> Response:
            tap = _Tap(authorization=request.headers.get("authorization"))
            reset = _TAP.set(tap)
            try:
                response = await handler(request)
            except Exception as exc:
                _count(tap, resource, _outcome(exc, 500))
                raise
            finally:
                _TAP.reset(reset)
            _count(tap, resource, _outcome(None, response.status_code))
            return response

        return _oauth_rendered(metered)


def _count(tap: _Tap, resource: str, outcome: str) -> None:
    if tap.platform is None:
        return
    ob = tap.platform.openbanking
    client_id = tap.client_id or ob.server.token_client(tap.authorization)
    if client_id is None:
        return
    if ob.usage.count(client_id, resource, outcome):
        # Written off this call's path: a worker thread adds the batch to the database.
        flush = asyncio.get_running_loop().run_in_executor(None, ob.usage.flush_quietly)
        _FLUSHES.add(flush)
        flush.add_done_callback(_FLUSHES.discard)


# Outside /v1, so the per-IP limit is declared here; each app's calls count against its own
# limit once its token is verified (``_grant``), never by a client_id it merely claims.
oauth_router = APIRouter(
    tags=["open banking: authorisation server"],
    route_class=OAuthRoute,
    dependencies=[Depends(limit_by_ip)],
)
open_router = APIRouter(
    prefix="/open-banking/v1",
    tags=["open banking: third-party APIs"],
    route_class=MeteredRoute,
    dependencies=[Depends(limit_by_ip)],
)
router = APIRouter(prefix="/openbanking", tags=["open banking: operators"])

_NO_STORE = {"Cache-Control": "no-store"}


async def _form(request: Request) -> dict[str, str]:
    if request.headers.get("content-type", "").split(";")[0].strip() != (
        "application/x-www-form-urlencoded"
    ):
        raise OAuthError("invalid_request", "send application/x-www-form-urlencoded")
    form = await request.form()
    values: dict[str, str] = {}
    for name, value in form.multi_items():
        if not isinstance(value, str) or name in values:
            raise OAuthError("invalid_request", f"{name} must be sent once, as text", field=name)
        values[name] = value
    return values


# -- discovery and the authorisation server -------------------------------------------------------
@oauth_router.get("/.well-known/openid-configuration", summary="Discovery metadata")
@oauth_router.get("/.well-known/oauth-authorization-server", include_in_schema=False)
def discovery(platform: PlatformDep) -> dict[str, Any]:
    return platform.openbanking.server.metadata()


@oauth_router.get("/oauth2/jwks", summary="The server's public signing keys")
def jwks(platform: PlatformDep) -> dict[str, Any]:
    return platform.openbanking.jwks


@oauth_router.post("/oauth2/par", status_code=201, summary="Push an authorisation request")
async def par(request: Request, platform: PlatformDep) -> JSONResponse:
    form = await _form(request)
    body = await run_in_threadpool(
        platform.openbanking.server.push, form, dpop_proof=request.headers.get("dpop")
    )
    return JSONResponse(body, status_code=201, headers=_NO_STORE)


@oauth_router.get(
    "/oauth2/authorize", summary="Start the customer's consent (pushed requests only)"
)
def authorize(request: Request, platform: PlatformDep) -> Response:
    request_id = platform.openbanking.server.authorisation_request(dict(request.query_params))
    # The customer signs in (if needed) and decides in the customer app.
    return RedirectResponse(f"/app/openbanking/authorize/{request_id}", status_code=303)


@oauth_router.post("/oauth2/token", summary="Exchange a code or rotate a refresh token")
async def token(request: Request, platform: PlatformDep) -> JSONResponse:
    form = await _form(request)
    body = await run_in_threadpool(
        platform.openbanking.server.token, form, dpop_proof=request.headers.get("dpop")
    )
    return JSONResponse(body, headers=_NO_STORE)


@oauth_router.post("/oauth2/introspect", summary="Token introspection (RFC 7662)")
async def introspect(request: Request, platform: PlatformDep) -> JSONResponse:
    form = await _form(request)
    body = await run_in_threadpool(platform.openbanking.server.introspect, form)
    return JSONResponse(body, headers=_NO_STORE)


@oauth_router.post("/oauth2/revoke", summary="Token revocation (RFC 7009)")
async def revoke(request: Request, platform: PlatformDep) -> Response:
    form = await _form(request)
    await run_in_threadpool(platform.openbanking.server.revoke, form)
    return Response(status_code=200, headers=_NO_STORE)


# -- third-party APIs ---------------------------------------------------------------------------
async def _grant(request: Request, platform: PlatformDep) -> Grant:
    server = platform.openbanking.server
    tap = _TAP.get()
    if tap is not None:
        tap.platform = platform
    url = server.issuer + request.url.path
    grant = await run_in_threadpool(
        server.verify_access,
        request.headers.get("authorization"),
        request.headers.get("dpop"),
        method=request.method,
        url=url,
    )
    if tap is not None:
        tap.client_id = grant.client_id
    limiter_of(request).hit("app_per_client", grant.client_id)
    return grant


GrantDep = Annotated[Grant, Depends(_grant)]


class AccountOut(BaseModel):
    account_id: str
    kind: str
    currency: str
    status: str


class BalanceOut(BaseModel):
    account_id: str
    currency: str
    booked: str
    available: str


class TransactionOut(BaseModel):
    transaction_id: str
    booked_at: datetime
    amount: str
    currency: str
    credit_debit: str
    description: str


class PaymentIn(BaseModel):
    amount: str = Field(max_length=40)
    currency: str = Field(min_length=3, max_length=3)
    creditor_account: str = Field(min_length=1, max_length=36)
    debtor_account: str | None = Field(default=None, max_length=36)
    description: str = Field(default="", max_length=140)


class PaymentOut(BaseModel):
    payment_id: str
    consent_id: str
    status: str
    amount: str
    currency: str
    debtor_account: str
    creditor_account: str
    created_at: datetime
    reason: str | None
    transfer_id: str | None = None
    transfer_status: str | None = None

    @classmethod
    def of(cls, p: Payment) -> PaymentOut:
        return cls(
            payment_id=p.id,
            consent_id=p.consent_id,
            status=p.status,
            amount=str(p.amount.amount),
            currency=p.amount.code,
            debtor_account=p.debtor_account_id,
            creditor_account=p.creditor_account_id,
            created_at=p.created_at,
            reason=p.reason,
            transfer_id=p.transfer_id,
            transfer_status=p.transfer_status,
        )


class ConsentOut(BaseModel):
    consent_id: str
    client_id: str
    kind: str
    status: str
    permissions: list[str]
    accounts: list[str]
    expires_at: datetime
    transaction_from: datetime | None
    transaction_to: datetime | None
    status_changed_at: datetime

    @classmethod
    def of(cls, c: Consent) -> ConsentOut:
        return cls(
            consent_id=c.id,
            client_id=c.client_id,
            kind=c.kind.value,
            status=c.status.value,
            permissions=list(c.permissions),
            accounts=list(c.account_ids),
            expires_at=c.expires_at,
            transaction_from=c.from_date,
            transaction_to=c.to_date,
            status_changed_at=c.status_changed_at,
        )


@open_router.get("/accounts", response_model=list[AccountOut], summary="Consented accounts")
def ob_accounts(platform: PlatformDep, grant: GrantDep) -> list[AccountOut]:
    return [
        AccountOut(account_id=a.id, kind=a.kind.value, currency=a.currency, status=a.status.value)
        for a in platform.openbanking.resources.accounts(grant)
    ]


@open_router.get("/accounts/{account_id}/balances", response_model=BalanceOut)
def ob_balance(platform: PlatformDep, grant: GrantDep, account_id: str) -> BalanceOut:
    b = platform.openbanking.resources.balance(grant, account_id)
    return BalanceOut(
        account_id=b.account_id,
        currency=b.currency,
        booked=str(b.balance.amount),
        available=str(b.available.amount),
    )


@open_router.get("/accounts/{account_id}/transactions", response_model=list[TransactionOut])
def ob_transactions(
    platform: PlatformDep,
    grant: GrantDep,
    account_id: str,
    from_booking_date: Annotated[date | None, Query()] = None,
    to_booking_date: Annotated[date | None, Query(description="inclusive")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 100,
) -> list[TransactionOut]:
    start = _day(from_booking_date)
    end = _day(to_booking_date, next_day=True)
    items = platform.openbanking.resources.transactions(
        grant, account_id, from_time=start, to_time=end, limit=limit
    )
    return [
        TransactionOut(
            transaction_id=str(i.posting_id),
            booked_at=i.created_at,
            amount=str(abs(i.amount.amount)),
            currency=i.amount.code,
            credit_debit="credit" if i.amount.minor > 0 else "debit",
            description=i.description,
        )
        for i in items
    ]


def _day(value: date | None, *, next_day: bool = False) -> datetime | None:
    if value is None:
        return None
    from datetime import timedelta

    start = datetime.combine(value, time(0), tzinfo=UTC)
    return start + timedelta(days=1) if next_day else start


@open_router.post("/payments", response_model=PaymentOut, status_code=201)
def ob_create_payment(
    platform: PlatformDep,
    grant: GrantDep,
    body: PaymentIn,
    idempotency_key: Annotated[str, Header(alias="Idempotency-Key", max_length=200)],
) -> PaymentOut:
    amount = Money.of(body.amount, body.currency)
    payment = platform.openbanking.resources.initiate_payment(
        grant,
        idempotency_key=idempotency_key,
        amount=amount,
        creditor_account_id=body.creditor_account,
        debtor_account_id=body.debtor_account,
        description=body.description,
    )
    return PaymentOut.of(payment)


@open_router.get("/payments/{payment_id}", response_model=PaymentOut)
def ob_payment(platform: PlatformDep, grant: GrantDep, payment_id: str) -> PaymentOut:
    return PaymentOut.of(platform.openbanking.resources.payment(grant, payment_id))


@open_router.get("/consents/{consent_id}", response_model=ConsentOut)
def ob_consent(platform: PlatformDep, grant: GrantDep, consent_id: str) -> ConsentOut:
    return ConsentOut.of(
        platform.openbanking.server.consent_for_client(grant.client_id, consent_id)
    )


# -- operators and developers (/v1/openbanking) --------------------------------------------------
class AppIn(BaseModel):
    name: str = Field(max_length=100)
    developer: str = Field(max_length=200)
    category: str = "other"
    description: str = Field(default="", max_length=2000)
    redirect_uris: list[str] = Field(min_length=1, max_length=10)
    jwks: dict[str, Any] | None = Field(default=None, description="public keys (or jwks_uri)")
    jwks_uri: str | None = Field(
        default=None, max_length=500, description="where the app publishes its keys (or jwks)"
    )
    scopes: list[str] = Field(min_length=1, max_length=3)
    initiate_login_uri: str | None = Field(
        default=None,
        max_length=500,
        description="OpenID Connect third-party-initiated login: the app store's Connect",
    )
    sandbox: bool = Field(
        default=False, description="a sandbox app: approved at once, synthetic data only"
    )


class AppOut(BaseModel):
    client_id: str
    name: str
    developer: str
    category: str
    description: str
    redirect_uris: list[str]
    scopes: list[str]
    status: str
    created_at: datetime
    initiate_login_uri: str | None
    sandbox: bool = False
    jwks_uri: str | None = None
    logo_url: str | None = None

    @classmethod
    def of(cls, a: App) -> AppOut:
        return cls(
            client_id=a.client_id,
            name=a.name,
            developer=a.developer,
            category=a.category,
            description=a.description,
            redirect_uris=list(a.redirect_uris),
            scopes=list(a.scopes),
            status=a.status.value,
            created_at=a.created_at,
            initiate_login_uri=a.initiate_login_uri,
            sandbox=a.sandbox,
            jwks_uri=a.jwks_uri,
            logo_url=None
            if a.logo is None
            else f"/v1/openbanking/apps/{a.client_id}/logo?v={a.logo[:12]}",
        )


@router.post("/apps", response_model=AppOut, status_code=201, summary="Register an app")
def register_app(platform: PlatformDep, principal: PrincipalDep, body: AppIn) -> AppOut:
    app = platform.openbanking.apps.register(principal, **body.model_dump())
    return AppOut.of(app)


@router.get("/apps", response_model=list[AppOut], summary="Apps (the app store for customers)")
def list_apps(
    platform: PlatformDep, principal: PrincipalDep, status: str | None = None
) -> list[AppOut]:
    wanted = None if status is None else _status(status)
    return [AppOut.of(a) for a in platform.openbanking.apps.list(principal, status=wanted)]


@router.post("/apps/{client_id}/approve", response_model=AppOut, summary="Approve an app")
def approve_app(platform: PlatformDep, principal: PrincipalDep, client_id: str) -> AppOut:
    return AppOut.of(platform.openbanking.apps.decide(principal, client_id, AppStatus.APPROVED))


@router.post("/apps/{client_id}/suspend", response_model=AppOut, summary="Suspend an app")
def suspend_app(platform: PlatformDep, principal: PrincipalDep, client_id: str) -> AppOut:
    return AppOut.of(platform.openbanking.apps.decide(principal, client_id, AppStatus.SUSPENDED))


@router.get("/consents", response_model=list[ConsentOut], summary="Consents (own, or search)")
def list_consents(
    platform: PlatformDep,
    principal: PrincipalDep,
    customer_id: str | None = None,
    client_id: str | None = None,
) -> list[ConsentOut]:
    found = platform.openbanking.server.consents(
        principal, customer_id=customer_id, client_id=client_id
    )
    return [ConsentOut.of(c) for c in found]


@router.post("/consents/{consent_id}/revoke", response_model=ConsentOut, summary="Revoke a grant")
def revoke_consent(platform: PlatformDep, principal: PrincipalDep, consent_id: str) -> ConsentOut:
    return ConsentOut.of(platform.openbanking.server.revoke_consent(principal, consent_id))


@router.put(
    "/apps/{client_id}/logo",
    response_model=AppOut,
    summary="Upload the app's logo (the body: a PNG or JPEG image)",
)
async def upload_logo(
    request: Request, platform: PlatformDep, principal: PrincipalDep, client_id: str
) -> AppOut:
    data = await request.body()  # bounded by the API's body limit, then by the logo's own
    app = await run_in_threadpool(platform.openbanking.apps.set_logo, principal, client_id, data)
    return AppOut.of(app)


@router.get("/apps/{client_id}/logo", summary="The app's logo (PNG, re-encoded by us)")
def app_logo(platform: PlatformDep, principal: PrincipalDep, client_id: str) -> Response:
    png, _ = platform.openbanking.apps.logo(principal, client_id)
    return Response(png, headers=LOGO_HEADERS)


class SandboxAccountOut(BaseModel):
    account_id: str
    kind: str
    currency: str


class SandboxCustomerOut(BaseModel):
    customer_id: str
    accounts: list[SandboxAccountOut]

    @classmethod
    def of(cls, c: SandboxCustomer) -> SandboxCustomerOut:
        return cls(
            customer_id=c.id,
            accounts=[
                SandboxAccountOut(account_id=a.id, kind=a.kind.value, currency=a.currency)
                for a in c.accounts
            ],
        )


class SandboxOut(BaseModel):
    developer: str
    seeded_at: datetime
    customers: list[SandboxCustomerOut]

    @classmethod
    def of(cls, box: Sandbox) -> SandboxOut:
        return cls(
            developer=box.developer,
            seeded_at=box.seeded_at,
            customers=[SandboxCustomerOut.of(c) for c in box.customers],
        )


class SandboxAuthorizeIn(BaseModel):
    client_id: str = Field(max_length=36)
    request_uri: str = Field(max_length=200)
    customer_id: str = Field(max_length=36)
    account_ids: list[str] = Field(min_length=1, max_length=10)


class RedirectOut(BaseModel):
    redirect_to: str


@router.get(
    "/sandbox/customers",
    response_model=list[SandboxCustomerOut],
    summary="Your sandbox's synthetic customers and accounts (seeded on first use)",
)
def sandbox_customers(
    platform: PlatformDep, principal: PrincipalDep, developer: str | None = None
) -> list[SandboxCustomerOut]:
    box = platform.openbanking.sandbox_of(principal, developer)
    return [SandboxCustomerOut.of(c) for c in box.customers]


@router.post(
    "/sandbox/reset",
    response_model=SandboxOut,
    summary="Put your sandbox back as seeded (balances, transactions; the same account ids)",
)
def reset_sandbox(
    platform: PlatformDep, principal: PrincipalDep, developer: str | None = None
) -> SandboxOut:
    return SandboxOut.of(platform.openbanking.reset_sandbox(principal, developer))


@router.post(
    "/sandbox/authorize",
    response_model=RedirectOut,
    summary="Authorise a sandbox app's pushed request as a synthetic customer",
)
def sandbox_authorize(
    platform: PlatformDep, principal: PrincipalDep, body: SandboxAuthorizeIn
) -> RedirectOut:
    return RedirectOut(
        redirect_to=platform.openbanking.authorise_in_sandbox(principal, **body.model_dump())
    )


def _status(value: str) -> AppStatus:
    try:
        return AppStatus(value)
    except ValueError:
        raise ValidationError("pending, approved or suspended", field="status") from None


class WebhookIn(BaseModel):
    url: str = Field(max_length=500)


class WebhookSecretOut(BaseModel):
    secret: str = Field(description="The signing secret, shown this once")


class DeliveryOut(BaseModel):
    id: str
    client_id: str
    event_type: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_status: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


@router.put("/apps/{client_id}/webhook", response_model=WebhookSecretOut, summary="Set webhook URL")
def set_webhook(
    platform: PlatformDep, principal: PrincipalDep, client_id: str, body: WebhookIn
) -> WebhookSecretOut:
    secret = platform.openbanking.webhooks.set_endpoint(principal, client_id, body.url)
    return WebhookSecretOut(secret=secret)


@router.post("/apps/{client_id}/webhook/rotate", response_model=WebhookSecretOut)
def rotate_webhook_secret(
    platform: PlatformDep, principal: PrincipalDep, client_id: str
) -> WebhookSecretOut:
    return WebhookSecretOut(
        secret=platform.openbanking.webhooks.rotate_secret(principal, client_id)
    )


@router.get("/deliveries", response_model=list[DeliveryOut], summary="Webhook delivery log")
def list_deliveries(
    platform: PlatformDep, principal: PrincipalDep, client_id: str | None = None
) -> list[DeliveryOut]:
    found = platform.openbanking.webhooks.deliveries(principal, client_id=client_id)
    return [DeliveryOut.model_validate(d, from_attributes=True) for d in found]


@router.post("/deliveries/{delivery_id}/replay", response_model=DeliveryOut)
def replay_delivery(
    platform: PlatformDep, principal: PrincipalDep, delivery_id: str
) -> DeliveryOut:
    delivery = platform.openbanking.webhooks.replay(principal, delivery_id)
    return DeliveryOut.model_validate(delivery, from_attributes=True)


class UsageOut(BaseModel):
    client_id: str
    day: date
    resource: str
    outcome: str = Field(description="served, rate_limited or refused:<error>")
    calls: int

    @classmethod
    def of(cls, u: Usage) -> UsageOut:
        return cls(
            client_id=u.client_id, day=u.day, resource=u.resource, outcome=u.outcome, calls=u.calls
        )


@router.get("/usage", response_model=list[UsageOut], summary="Third-party API calls per app")
def list_usage(
    platform: PlatformDep,
    principal: PrincipalDep,
    client_id: Annotated[str | None, Query(max_length=36)] = None,
    since: Annotated[date | None, Query(description="first business day")] = None,
) -> list[UsageOut]:
    """Operators see every app; a developer only its own (another's app is 404)."""
    found = platform.openbanking.usage.report(principal, client_id=client_id, since=since)
    return [UsageOut.of(u) for u in found]

"""The app registry: third parties register apps (redirect URIs, public keys, scopes), an
operator approves them; the app store lists the approved ones."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from sqlalchemy import Engine, select

from finbridge.core.clock import Clock
from finbridge.core.errors import NotFound, PermissionDenied, ValidationError
from finbridge.core.ids import new_id
from finbridge.core.principal import Principal, PrincipalKind
from finbridge.openbanking.consents import aware
from finbridge.openbanking.keys import validate_jwks
from finbridge.openbanking.logos import clean_logo
from finbridge.openbanking.outbound import FetchRefused, check_url
from finbridge.openbanking.remote_jwks import RemoteJwks
from finbridge.openbanking.tables import AppLogoRow, AppRow
from finbridge.store.engine import unit_of_work

SCOPES: tuple[str, ...] = ("accounts", "payments", "cross_border_payments")
CATEGORIES: tuple[str, ...] = (
    "budgeting",
    "accounting",
    "payments",
    "lending",
    "investing",
    "other",
)
_LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]", "testserver")


class AppStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    SUSPENDED = "suspended"


@dataclass(frozen=True, slots=True)
class App:
    client_id: str
    name: str
    developer: str
    category: str
    description: str
    redirect_uris: tuple[str, ...]
    scopes: tuple[str, ...]
    status: AppStatus
    created_at: datetime
    jwks: dict[str, Any]
    # OpenID Connect third-party-initiated login: where "Connect" sends the customer, so the
    # app itself pushes the request (FAPI 2.0 leaves the bank no way to start the flow).
    initiate_login_uri: str | None = None
    sandbox: bool = False  # served from the synthetic sandbox only (see sandbox.py)
    jwks_uri: str | None = None  # keys published by the app (``jwks`` is then empty)
    logo: str | None = None  # the logo's SHA-256 (a cache key for its URL); none: no logo
    # Who registered it (a developer's key or an operator): a sandbox app's sandbox is theirs.
    owner_id: str | None = None

    @classmethod
    def of(cls, row: AppRow) -> App:
        return cls(
            row.id,
            row.name,
            row.developer,
            row.category,
            row.description,
            tuple(row.redirect_uris),
            tuple(row.scopes),
            AppStatus(row.status),
            aware(row.created_at),
            dict(row.jwks),
            row.initiate_login_uri,
            bool(row.sandbox),
            row.jwks_uri,
            row.logo_sha256,
            row.owner_id,
        )


class AppRegistry:
    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        *,
        production: bool,
        remote_jwks: RemoteJwks | None = None,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._production = production
        self.remote_jwks = remote_jwks or RemoteJwks(clock, production=production)

    def register(
        self,
        actor: Principal,
        *,
        name: str,
        developer: str,
        redirect_uris: Sequence[str],
        jwks: Any = None,
        scopes: Sequence[str] = (),
        category: str = "other",
        description: str = "",
        initiate_login_uri: str | None = None,
        sandbox: bool = False,
        jwks_uri: str | None = None,
    ) -> App:
        """A new app, pending an operator's approval (``openbanking:write``). A sandbox app is
        approved at once: it can reach only the synthetic sandbox, never a real account. Its
        keys: an inline ``jwks`` or a ``jwks_uri`` where it publishes them (one of the two)."""
        actor.require_scope("openbanking:write")
        if not isinstance(sandbox, bool):
            raise ValidationError("true or false", field="sandbox")
        if (jwks is None) == (jwks_uri is None):
            raise ValidationError("give either jwks or jwks_uri", field="jwks_uri")
        row = AppRow(
            id=new_id(),
            name=_text(name, "name", 100),
            developer=_text(developer, "developer", 200),
            category=_choice(category, CATEGORIES, "category"),
            description=_text(description, "description", 2000, empty=True),
            redirect_uris=[
                self._uri(u, "redirect_uris") for u in _listed(redirect_uris, "redirect_uris")
            ],
            initiate_login_uri=None
            if initiate_login_uri is None
            else self._uri(initiate_login_uri, "initiate_login_uri"),
            jwks={"keys": []} if jwks is None else _jwks(jwks),
            jwks_uri=None if jwks_uri is None else self._jwks_uri(jwks_uri),
            scopes=[_choice(s, SCOPES, "scopes") for s in _listed(scopes, "scopes")],
            status=(AppStatus.APPROVED if sandbox else AppStatus.PENDING).value,
            owner_id=actor.id,
            decided_by="sandbox" if sandbox else None,
            sandbox=sandbox,
            created_at=self._clock.now(),
        )
        with unit_of_work(self._engine) as session:
            session.add(row)
        return App.of(row)

    def decide(self, actor: Principal, client_id: str, status: AppStatus) -> App:
        """Approve or suspend an app (``openbanking:admin``)."""
        actor.require_scope("openbanking:admin")
        with unit_of_work(self._engine) as session:
            row = session.get(AppRow, client_id)
            if row is None:
                raise NotFound("no such app", field="client_id")
            row.status = status.value
            row.decided_by = actor.id
        return App.of(row)

    def get(self, actor: Principal, client_id: str) -> App:
        actor.require_scope("openbanking:read")
        app = self.find(client_id)
        if app is None:
            raise NotFound("no such app", field="client_id")
        return app

    def find(self, client_id: str) -> App | None:
        """Internal lookup for the server (no principal: the caller authenticates the client)."""
        with unit_of_work(self._engine, write=False) as session:
            row = session.get(AppRow, client_id)
        return None if row is None else App.of(row)

    def approved_jwks(self, client_id: str, kid: str | None = None) -> dict[str, Any] | None:
        """The keys that verify an approved app's client assertion signed with ``kid``: its
        registered JWKS, or the set at its JWKS URI (fetched again when ``kid`` is new to us);
        ``FetchRefused`` when that set cannot be had."""
        app = self.find(client_id)
        if app is None or app.status is not AppStatus.APPROVED:
            return None
        if app.jwks_uri is not None:
            return self.remote_jwks.keys(app.jwks_uri, kid)
        return app.jwks

    def list(self, actor: Principal, *, status: AppStatus | None = None) -> list[App]:
        """Operators see every app; anyone signed in sees the approved ones (the app store)."""
        stmt = select(AppRow).order_by(AppRow.category, AppRow.name)
        if status is not None:
            stmt = stmt.where(AppRow.status == status.value)
        if not actor.has_scope("openbanking:read"):
            # The app store; a developer also sees its own apps, whatever their status.
            visible = (AppRow.status == AppStatus.APPROVED.value) & AppRow.sandbox.is_(False)
            if actor.has_scope("openbanking:write"):
                visible = visible | (AppRow.owner_id == actor.id)
            stmt = stmt.where(visible)
        with unit_of_work(self._engine, write=False) as session:
            return [App.of(r) for r in session.scalars(stmt).all()]

    def set_logo(self, actor: Principal, client_id: str, data: bytes) -> App:
        """Upload the app's logo (its developer, or an operator): kept only as re-drawn by
        ``logos.clean_logo``; a bad file is refused and the previous logo stays."""
        actor.require_scope("openbanking:write")
        clean = clean_logo(data)
        with unit_of_work(self._engine) as session:
            row = session.get(AppRow, client_id)
            if row is None or not may_manage(actor, row):
                raise NotFound("no such app", field="client_id")
            logo = session.get(AppLogoRow, client_id)
            if logo is None:
                logo = AppLogoRow(client_id=client_id)
                session.add(logo)
            logo.media_type, logo.data, logo.sha256 = "image/png", clean.png, clean.sha256
            logo.width, logo.height = clean.width, clean.height
            logo.updated_at = self._clock.now()
            row.logo_sha256 = clean.sha256
        return App.of(row)

    def get_owned(self, actor: Principal, client_id: str) -> App:
        """An app ``actor`` manages (its developer, or an operator); another's is unknown."""
        actor.require_scope("openbanking:write")
        with unit_of_work(self._engine, write=False) as session:
            row = session.get(AppRow, client_id)
            if row is None or not may_manage(actor, row):
                raise NotFound("no such app", field="client_id")
            return App.of(row)

    def sandbox_developer(self, actor: Principal, client_id: str) -> str:
        """Whose sandbox a sandbox app reads (its developer), if ``actor`` manages the app;
        another's app, a live app or an unknown one is answered as unknown."""
        with unit_of_work(self._engine, write=False) as session:
            row = session.get(AppRow, client_id)
            if row is None or not row.sandbox or not row.owner_id or not may_manage(actor, row):
                raise NotFound("no such sandbox app", field="client_id")
            return row.owner_id

    def logo(self, actor: Principal, client_id: str) -> tuple[bytes, str]:
        """The logo's PNG and SHA-256 for whoever may see the app: anyone signed in for an
        approved app in the store, its developer and operators for any; else ``NotFound``."""
        with unit_of_work(self._engine, write=False) as session:
            row = session.get(AppRow, client_id)
            logo = None if row is None else session.get(AppLogoRow, client_id)
            if row is None or logo is None:
                raise NotFound("no such logo", field="client_id")
            listed = row.status == AppStatus.APPROVED.value and not row.sandbox
            if not (listed or actor.has_scope("openbanking:read") or may_manage(actor, row)):
                raise NotFound("no such logo", field="client_id")
            return bytes(logo.data), logo.sha256

    def owned(self, actor: Principal) -> builtins.list[App]:
        """The apps ``actor`` manages, newest first: a developer's own (whatever their status),
        every app for operators with ``openbanking:admin``."""
        actor.require_scope("openbanking:write")
        stmt = select(AppRow).order_by(AppRow.created_at.desc(), AppRow.name)
        if not actor.has_scope("openbanking:admin"):
            stmt = stmt.where(AppRow.owner_id == actor.id)
        with unit_of_work(self._engine, write=False) as session:
            return [App.of(r) for r in session.scalars(stmt).all()]

    def _uri(self, uri: Any, field: str) -> str:
        """Redirect URIs and the login initiation URI: https (http on loopback outside
        production), absolute, no fragment."""
        if not isinstance(uri, str) or len(uri) > 500:
            raise ValidationError("a URI of at most 500 characters", field=field)
        parts = urlsplit(uri)
        local = parts.hostname is not None and f"{parts.hostname}" in _LOCAL_HOSTS
        if parts.fragment or not parts.netloc:
            raise ValidationError("an absolute URI without a fragment", field=field)
        if parts.scheme != "https" and not (
            parts.scheme == "http" and local and not self._production
        ):
            raise ValidationError(f"{field} must use https", field=field)
        return uri

    def _jwks_uri(self, uri: Any) -> str:
        """Where the app publishes its keys: a URL our fetcher may ever reach (https, no
        address literal in a private range; loopback only outside production)."""
        try:
            check_url(uri, production=self._production)
        except FetchRefused as exc:
            raise ValidationError(str(exc), field="jwks_uri") from None
        return str(uri)

    def initiate_login(self, actor: Principal, client_id: str, *, issuer: str) -> str:
        """Where the app store's "Connect" sends a signed-in customer: the app's registered
        ``initiate_login_uri`` with ``iss`` and ``target_link_uri`` (OpenID Connect Core 1.0
        section 4). The app then pushes its own authorisation request (PAR) and the customer
        comes back to the consent screen. Only approved apps that registered the URI."""
        if actor.kind is not PrincipalKind.CUSTOMER:
            raise PermissionDenied("only a customer connects an app")
        app = self.find(client_id)
        if (
            app is None
            or app.status is not AppStatus.APPROVED
            or not app.initiate_login_uri
            or app.sandbox
        ):
            raise NotFound("no such app to connect", field="client_id")
        parts = urlsplit(app.initiate_login_uri)
        # The target is the app's own origin: the spec has the app check it is its own, and
        # it is the one address of the app the bank knows to be a landing page.
        target = urlunsplit((parts.scheme, parts.netloc, "/", "", ""))
        query = urlencode({"iss": issuer, "target_link_uri": target})
        joined = f"{parts.query}&{query}" if parts.query else query
        return urlunsplit((parts.scheme, parts.netloc, parts.path, joined, ""))


def _text(value: Any, field: str, limit: int, *, empty: bool = False) -> str:
    if not isinstance(value, str) or len(value) > limit or (not empty and not value.strip()):
        raise ValidationError(f"text of 1 to {limit} characters", field=field)
    return value.strip()


def _choice(value: Any, choices: tuple[str, ...], field: str) -> str:
    if value not in choices:
        raise ValidationError(f"one of {', '.join(choices)}", field=field)
    return str(value)


def _listed(values: Any, field: str) -> list[Any]:
    if isinstance(values, str) or not isinstance(values, Sequence) or not 1 <= len(values) <= 10:
        raise ValidationError("a list of 1 to 10 values", field=field)
    return list(values)


def _jwks(value: Any) -> dict[str, Any]:
    try:
        return validate_jwks(value)
    except ValueError as exc:
        raise ValidationError(str(exc), field="jwks") from None


def may_manage(actor: Principal, row: AppRow) -> bool:
    """Operators with ``openbanking:admin`` manage every app; a developer only the apps it
    registered (others' are answered as unknown)."""
    if actor.has_scope("openbanking:admin"):
        return True
    return actor.has_scope("openbanking:write") and row.owner_id == actor.id

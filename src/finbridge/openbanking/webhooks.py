"""Webhooks to apps (consent and payment events), signed per the Standard Webhooks conventions
(``webhook-id``, ``webhook-timestamp``, ``webhook-signature``; the ``standardwebhooks`` library
signs), retried with exponential backoff, logged per delivery, replayable.

Secrets are shown to the developer once and stored sealed (AES-GCM under a key derived from the
platform's secret key). A rotation keeps the previous secret signing beside the new one for a
day, so a receiver can switch without losing a message. The signature's timestamp comes from
the real clock (receivers check it against theirs); scheduling uses the platform's clock.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Engine, or_, select, update
from sqlalchemy.orm import Session
from standardwebhooks.webhooks import Webhook

from finbridge.core.clock import Clock, SystemClock
from finbridge.core.errors import NotFound, ValidationError
from finbridge.core.ids import new_id
from finbridge.core.principal import Principal
from finbridge.openbanking.apps import may_manage
from finbridge.openbanking.consents import aware
from finbridge.openbanking.outbound import FetchRefused, check_url, pin
from finbridge.openbanking.tables import AppRow, WebhookDeliveryRow
from finbridge.store.engine import unit_of_work

MAX_ATTEMPTS = 8
_FIRST_RETRY = timedelta(seconds=10)
_MAX_RETRY = timedelta(hours=1)
_OVERLAP = timedelta(days=1)
# Longer than a batch takes to send (100 rows at the 10 s timeout would be ~17 min, but a run
# stops sending once its lease has passed, so a slow run never overlaps the next claimer).
LEASE = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class Delivery:
    id: str
    client_id: str
    event_type: str
    payload: dict[str, Any]
    status: str
    attempts: int
    next_attempt_at: datetime
    last_status: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None

    @classmethod
    def of(cls, row: WebhookDeliveryRow) -> Delivery:
        return cls(
            row.id,
            row.client_id,
            row.event_type,
            dict(row.payload),
            row.status,
            int(row.attempts),
            aware(row.next_attempt_at),
            row.last_status,
            row.last_error,
            aware(row.created_at),
            aware(row.delivered_at) if row.delivered_at else None,
        )


@dataclass(frozen=True, slots=True)
class DeliveryRun:
    delivered: int
    retrying: int
    failed: int


def enqueue(
    session: Session, client_id: str, event_type: str, data: Mapping[str, Any], now: datetime
) -> None:
    """Queue an event for the app, in the caller's transaction (nothing if it has no URL)."""
    app = session.get(AppRow, client_id)
    if app is None or not app.webhook_url:
        return
    session.add(
        WebhookDeliveryRow(
            id=f"msg_{new_id()}",
            client_id=client_id,
            event_type=event_type,
            payload={"type": event_type, "timestamp": now.isoformat(), "data": dict(data)},
            status="pending",
            attempts=0,
            next_attempt_at=now,
            last_status=None,
            last_error=None,
            created_at=now,
            delivered_at=None,
        )
    )


class WebhookService:
    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        master_secret: str,
        *,
        production: bool,
        transport: httpx.BaseTransport | None = None,
        lease: timedelta = LEASE,
    ) -> None:
        self._engine = engine
        self._lease = lease
        # This server's name on the rows it claims (host and process, and unique per service).
        self.worker = f"{socket.gethostname()[:30]}:{os.getpid()}:{secrets.token_hex(4)}"
        self._clock = clock
        self._box = AESGCM(
            hashlib.sha256(b"openbanking-webhooks:" + master_secret.encode()).digest()
        )
        self._production = production
        self._transport = transport
        self._real_clock = SystemClock()

    def use_transport(self, transport: httpx.BaseTransport) -> None:
        """Send through ``transport`` (tests, or an egress proxy's)."""
        self._transport = transport

    # -- endpoints and secrets -------------------------------------------------------------------
    def set_endpoint(self, actor: Principal, client_id: str, url: str) -> str:
        """Set the app's webhook URL; returns a new signing secret (shown once)."""
        actor.require_scope("openbanking:write")
        try:  # the JWKS fetcher's rule: https, no private address literal (loopback outside prod)
            check_url(url, production=self._production)
        except FetchRefused as exc:
            raise ValidationError(f"an https URL of at most 500 characters: {exc}",
                                  field="url") from None  # fmt: skip
        secret = _new_secret()
        with unit_of_work(self._engine) as session:
            app = self._app(session, client_id, actor)
            app.webhook_url = url
            app.webhook_secrets = [self._seal(secret)]
        return secret

    def rotate_secret(self, actor: Principal, client_id: str) -> str:
        """A new secret signs from now on; the previous one keeps signing for a day."""
        actor.require_scope("openbanking:write")
        secret = _new_secret()
        now = self._clock.now()
        with unit_of_work(self._engine) as session:
            app = self._app(session, client_id, actor)
            if not app.webhook_url:
                raise ValidationError("set a webhook URL first", field="url")
            kept = [
                s | {"retire_at": s.get("retire_at") or (now + _OVERLAP).isoformat()}
                for s in (app.webhook_secrets or [])[:1]
            ]
            app.webhook_secrets = [self._seal(secret), *kept]
        return secret

    # -- delivery --------------------------------------------------------------------------------
    def deliver_due(self, actor: Principal, *, limit: int = 100) -> DeliveryRun:
        """Send every due delivery once (the serve loop or ``finbridge openbanking deliver``).

        Several servers may run this at once: each first claims the rows it will send, so a
        delivery goes out from exactly one of them (see :meth:`_claim`)."""
        actor.require_scope("openbanking:admin")
        now = self._clock.now()
        claimed = self._claim(now, limit)
        counts = {"delivered": 0, "pending": 0, "failed": 0}
        with httpx.Client(transport=self._transport, timeout=10, follow_redirects=False) as http:
            for row, app in claimed:
                if self._clock.now() >= now + self._lease:
                    break  # our lease is over: another server may hold these rows by now
                counts[self._send(http, row, app, now)] += 1
        self._release([row.id for row, _ in claimed], now)
        return DeliveryRun(counts["delivered"], counts["pending"], counts["failed"])

    def _claim(self, now: datetime, limit: int) -> list[tuple[WebhookDeliveryRow, AppRow | None]]:
        """Take up to ``limit`` due rows no live lease holds, in one short transaction:
        ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (two servers claim disjoint rows without
        waiting on each other), the database's write lock (``BEGIN IMMEDIATE``) on SQLite.
        The lease lets a server that died mid-send be replaced once it ends."""
        with unit_of_work(self._engine) as session:
            due = session.scalars(
                select(WebhookDeliveryRow)
                .where(
                    WebhookDeliveryRow.status == "pending",
                    WebhookDeliveryRow.next_attempt_at <= now,
                    or_(
                        WebhookDeliveryRow.lease_until.is_(None),
                        WebhookDeliveryRow.lease_until <= now,
                    ),
                )
                .order_by(WebhookDeliveryRow.next_attempt_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            for row in due:
                row.claimed_by, row.lease_until = self.worker, now + self._lease
            return [(r, session.get(AppRow, r.client_id)) for r in due]

    def _release(self, ids: list[str], now: datetime) -> None:
        """Give back what this run claimed and did not send (a lease that ran out)."""
        if not ids:
            return
        with unit_of_work(self._engine) as session:
            session.execute(
                update(WebhookDeliveryRow)
                .where(
                    WebhookDeliveryRow.id.in_(ids),
                    WebhookDeliveryRow.claimed_by == self.worker,
                )
                .values(claimed_by=None, lease_until=None)
            )

    def _send(
        self, http: httpx.Client, row: WebhookDeliveryRow, app: AppRow | None, now: datetime
    ) -> str:
        status: int | None = None
        error: str | None = None
        if app is None or not app.webhook_url or not app.webhook_secrets:
            error = "the app has no webhook endpoint"
        else:
            body = json.dumps(row.payload, separators=(",", ":"), sort_keys=True)
            signed_at = self._real_clock.now()
            signatures = " ".join(
                Webhook(secret).sign(row.id, signed_at, body) for secret in self._secrets(app, now)
            )
            headers = {
                "webhook-id": row.id,
                "webhook-timestamp": str(int(signed_at.timestamp())),
                "webhook-signature": signatures,
                "content-type": "application/json",
            }
            try:
                response = self._post(http, app.webhook_url, body, headers)
                status = response.status_code
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"[:500]
            except FetchRefused as exc:  # the name now resolves to an address we never call
                error = f"refused: {exc}"[:500]
        with unit_of_work(self._engine) as session:
            stored = session.get(WebhookDeliveryRow, row.id, with_for_update=True)
            assert stored is not None
            stored.attempts += 1
            stored.last_status = status
            stored.last_error = (
                error if error else (None if status and status < 300 else f"HTTP {status}")
            )
            stored.claimed_by = stored.lease_until = None
            if status is not None and 200 <= status < 300:
                stored.status, stored.delivered_at = "delivered", now
            elif stored.attempts >= MAX_ATTEMPTS:
                stored.status = "failed"
            else:
                stored.next_attempt_at = now + min(
                    _FIRST_RETRY * 2 ** (stored.attempts - 1), _MAX_RETRY
                )
            return "pending" if stored.status == "pending" else stored.status

    def _post(
        self, http: httpx.Client, url: str, body: str, headers: dict[str, str]
    ) -> httpx.Response:
        """To the app's URL through the SSRF guard (resolved now, connected to the checked
        address); an injected transport (tests, an egress proxy) decides the route itself."""
        if self._transport is not None:
            return http.post(url, content=body, headers=headers)
        target = pin(url, production=self._production)
        return http.post(target.url, content=body, headers=headers | target.headers,
                         extensions=target.extensions)  # fmt: skip

    # -- the log -----------------------------------------------------------------------------------
    def deliveries(
        self, actor: Principal, *, client_id: str | None = None, limit: int = 100
    ) -> list[Delivery]:
        stmt = (
            select(WebhookDeliveryRow).order_by(WebhookDeliveryRow.created_at.desc()).limit(limit)
        )
        if not actor.has_scope("openbanking:read"):
            actor.require_scope("openbanking:write")  # a developer: its own apps' log only
            owned = select(AppRow.id).where(AppRow.owner_id == actor.id)
            stmt = stmt.where(WebhookDeliveryRow.client_id.in_(owned))
        if client_id is not None:
            stmt = stmt.where(WebhookDeliveryRow.client_id == client_id)
        with unit_of_work(self._engine, write=False) as session:
            return [Delivery.of(r) for r in session.scalars(stmt).all()]

    def replay(self, actor: Principal, delivery_id: str) -> Delivery:
        """Send a delivery again (from the portal): due now, attempts start over."""
        actor.require_scope("openbanking:write")
        with unit_of_work(self._engine) as session:
            row = session.get(WebhookDeliveryRow, delivery_id, with_for_update=True)
            app = None if row is None else session.get(AppRow, row.client_id)
            if row is None or app is None or not may_manage(actor, app):
                raise NotFound("no such delivery", field="delivery_id")
            row.status, row.attempts, row.next_attempt_at = "pending", 0, self._clock.now()
        return Delivery.of(row)

    # -- secrets ---------------------------------------------------------------------------
    def _secrets(self, app: AppRow, now: datetime) -> list[str]:
        live = [
            s
            for s in app.webhook_secrets or []
            if not s.get("retire_at") or datetime.fromisoformat(s["retire_at"]) > now
        ]
        return [self._open(s) for s in live]

    def _seal(self, secret: str) -> dict[str, Any]:
        nonce = os.urandom(12)
        sealed = self._box.encrypt(nonce, secret.encode(), b"openbanking-webhook")
        return {
            "nonce": base64.b64encode(nonce).decode(),
            "sealed": base64.b64encode(sealed).decode(),
        }

    def _open(self, stored: Mapping[str, Any]) -> str:
        nonce = base64.b64decode(stored["nonce"])
        return self._box.decrypt(
            nonce, base64.b64decode(stored["sealed"]), b"openbanking-webhook"
        ).decode()

    @staticmethod
    def _app(session: Session, client_id: str, actor: Principal) -> AppRow:
        app = session.get(AppRow, client_id, with_for_update=True)
        if app is None or not may_manage(actor, app):
            raise NotFound("no such app", field="client_id")
        return app


def _new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()

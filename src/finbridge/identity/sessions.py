"""Sessions: short-lived access tokens plus rotating refresh tokens with reuse detection.

A session is one refresh-token family on one device. Each refresh consumes the presented token
and issues the next one. Presenting an already-consumed token means it was copied (the rightful
client and an attacker both hold it), so the whole family is revoked: both parties must log in
again. Access tokens name their session, and verification checks the session is still live, so
logout and revoke-all take effect immediately rather than at token expiry.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from finbridge.core.clock import Clock
from finbridge.core.errors import AuthenticationFailed, NotFound
from finbridge.core.ids import new_id
from finbridge.core.principal import Principal, PrincipalKind
from finbridge.identity._time import aware, aware_or_none
from finbridge.identity.audit import AuditLog, foreign_object
from finbridge.identity.config import IdentityConfig
from finbridge.identity.events import emit_auth
from finbridge.identity.tables import RefreshTokenRow, SessionRow
from finbridge.identity.tokens import TokenSigner
from finbridge.store.engine import unit_of_work

REFRESH_PREFIX = "rt_"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    session_id: str
    token_type: str = "Bearer"  # noqa: S105 - a scheme name, not a secret


@dataclass(frozen=True, slots=True)
class SessionInfo:
    id: str
    device: str
    amr: tuple[str, ...]
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    current: bool


class SessionService:
    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        signer: TokenSigner,
        audit: AuditLog,
        config: IdentityConfig,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._signer = signer
        self._audit = audit
        self._config = config

    def prepare(self) -> None:
        """Make sure a signing key is loaded before a transaction that will sign tokens."""
        self._signer.ensure_key()

    def open(
        self,
        session: Session,
        customer_id: str,
        *,
        device: str,
        amr: list[str],
        step_up_method: str | None = None,
    ) -> TokenPair:
        """Create a session inside the caller's transaction (the login that earned it)."""
        now = self._clock.now()
        row = SessionRow(
            id=new_id(),
            customer_id=customer_id,
            device=(device or "unknown device")[:200],
            amr=amr,
            created_at=now,
            last_seen_at=now,
            expires_at=now + self._config.session_ttl,
            revoked_at=None,
            revoked_reason=None,
            stepped_up_at=now if step_up_method else None,
            step_up_method=step_up_method,
        )
        session.add(row)
        session.flush()
        refresh = self._new_refresh(session, row.id)
        access, _ = self._signer.sign(customer_id, row.id, amr)
        return TokenPair(
            access, refresh, int(self._config.access_token_ttl.total_seconds()), row.id
        )

    def _new_refresh(self, session: Session, session_id: str) -> str:
        token = REFRESH_PREFIX + secrets.token_urlsafe(32)
        session.add(
            RefreshTokenRow(
                id=new_id(),
                session_id=session_id,
                token_hash=_digest(token),
                created_at=self._clock.now(),
                used_at=None,
            )
        )
        return token

    def refresh(self, refresh_token: str) -> TokenPair:
        refused = AuthenticationFailed("invalid, expired or revoked refresh token")
        if not isinstance(refresh_token, str) or not refresh_token.startswith(REFRESH_PREFIX):
            raise refused
        if len(refresh_token) > 200:
            raise refused
        now = self._clock.now()
        reused: SessionRow | None = None
        self.prepare()
        with unit_of_work(self._engine) as session:
            token = session.scalar(
                select(RefreshTokenRow).where(RefreshTokenRow.token_hash == _digest(refresh_token))
            )
            if token is None:
                pair = None
            else:
                row = session.get(SessionRow, token.session_id)
                assert row is not None
                # Consume atomically: of two concurrent refreshes with one token, one wins and
                # the other is treated as reuse.
                consumed = session.execute(
                    update(RefreshTokenRow)
                    .where(RefreshTokenRow.id == token.id, RefreshTokenRow.used_at.is_(None))
                    .values(used_at=now)
                ).rowcount  # type: ignore[attr-defined]
                live = row.revoked_at is None and aware(row.expires_at) > now
                if not consumed:
                    # Reuse on a live family revokes it; on a dead one it is just refused.
                    reused = row if row.revoked_at is None else None
                    pair = None
                elif not live:
                    pair = None
                else:
                    row.last_seen_at = now
                    new_refresh = self._new_refresh(session, row.id)
                    access, _ = self._signer.sign(row.customer_id, row.id, list(row.amr))
                    ttl = int(self._config.access_token_ttl.total_seconds())
                    pair = TokenPair(access, new_refresh, ttl, row.id)
                    self._audit.append(
                        session,
                        actor=row.customer_id,
                        action="session.refresh",
                        subject=row.customer_id,
                        outcome="success",
                        detail={"session_id": row.id},
                    )
        if reused is not None:
            self._revoke_family(reused.id, reused.customer_id, "refresh_token_reuse")
            raise refused
        if pair is None:
            self._audit.record(
                actor="anonymous",
                action="session.refresh",
                subject=None,
                outcome="refused",
                detail={"reason": "unknown or dead token"},
            )
            raise refused
        return pair

    def _revoke_family(self, session_id: str, customer_id: str, reason: str) -> None:
        now = self._clock.now()
        with unit_of_work(self._engine) as session:
            session.execute(
                update(SessionRow)
                .where(SessionRow.id == session_id, SessionRow.revoked_at.is_(None))
                .values(revoked_at=now, revoked_reason=reason)
            )
            session.execute(
                update(RefreshTokenRow)
                .where(RefreshTokenRow.session_id == session_id, RefreshTokenRow.used_at.is_(None))
                .values(used_at=now)
            )
            self._audit.append(
                session,
                actor="system",
                action="session.revoke",
                subject=customer_id,
                outcome="success",
                detail={"session_id": session_id, "reason": reason},
            )
            emit_auth(
                session,
                now,
                action="session.revoke",
                outcome="success",
                customer_id=customer_id,
                session_id=session_id,
                reason=reason,
            )

    def authenticate(self, access_token: str) -> Principal:
        """Verify an access token and that its session is still live."""
        try:
            claims = self._signer.verify(access_token)
        except AuthenticationFailed:
            self._audit.record(
                actor="anonymous",
                action="token.verify",
                subject=None,
                outcome="refused",
                detail={"reason": "bad signature or expired"},
            )
            raise
        with unit_of_work(self._engine, write=False) as session:
            row = session.get(SessionRow, claims.session_id)
        if (
            row is None
            or row.customer_id != claims.customer_id
            or row.revoked_at is not None
            or aware(row.expires_at) <= self._clock.now()
        ):
            self._audit.record(
                actor=claims.customer_id,
                action="token.verify",
                subject=claims.customer_id,
                outcome="refused",
                detail={"reason": "session revoked or expired"},
            )
            raise AuthenticationFailed("session has ended; log in again")
        return Principal.customer(claims.customer_id, session_id=claims.session_id)

    def principal_for(self, session_id: str) -> Principal:
        """The customer principal of a live session (console sessions re-check this per page)."""
        with unit_of_work(self._engine, write=False) as session:
            row = session.get(SessionRow, session_id)
        if row is None or row.revoked_at is not None or aware(row.expires_at) <= self._clock.now():
            raise AuthenticationFailed("session has ended; log in again")
        return Principal.customer(row.customer_id, session_id=row.id)

    def _own(self, actor: Principal, customer_id: str) -> None:
        if actor.kind is PrincipalKind.CUSTOMER:
            if not actor.can_act_for(customer_id):
                raise foreign_object(self._audit, actor.id, customer_id, "sessions")
        else:
            actor.require_scope("customers:write")

    def list(self, actor: Principal, customer_id: str) -> list[SessionInfo]:
        if actor.kind is PrincipalKind.CUSTOMER:
            self._own(actor, customer_id)
        else:
            actor.require_scope("customers:read")
        with unit_of_work(self._engine, write=False) as session:
            rows = session.scalars(
                select(SessionRow)
                .where(SessionRow.customer_id == customer_id)
                .order_by(SessionRow.created_at.desc())
            ).all()
        now = self._clock.now()
        return [
            SessionInfo(
                r.id,
                r.device,
                tuple(r.amr),
                aware(r.created_at),
                aware(r.last_seen_at),
                aware(r.expires_at),
                aware_or_none(r.revoked_at),
                r.id == actor.session_id,
            )
            for r in rows
            if r.revoked_at is None and aware(r.expires_at) > now
        ]

    def revoke(
        self, actor: Principal, customer_id: str, session_id: str, reason: str = "revoked"
    ) -> None:
        self._own(actor, customer_id)
        with unit_of_work(self._engine, write=False) as session:
            row = session.get(SessionRow, session_id)
        if row is None or row.customer_id != customer_id:
            raise NotFound(f"no session {session_id}", field="session_id")
        self._revoke_family(session_id, customer_id, reason)

    def logout(self, actor: Principal) -> None:
        if actor.kind is not PrincipalKind.CUSTOMER or actor.session_id is None:
            raise NotFound("no customer session to end", field="session_id")
        assert actor.customer_id is not None
        self.revoke(actor, actor.customer_id, actor.session_id, reason="logout")

    def revoke_all(self, actor: Principal, customer_id: str) -> int:
        self._own(actor, customer_id)
        with unit_of_work(self._engine, write=False) as session:
            ids = session.scalars(
                select(SessionRow.id).where(
                    SessionRow.customer_id == customer_id, SessionRow.revoked_at.is_(None)
                )
            ).all()
        for sid in ids:
            self._revoke_family(sid, customer_id, "revoke_all")
        return len(ids)

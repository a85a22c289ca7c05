"""Step-up: high-risk actions need a second factor proven within the last few minutes.

Engines call :meth:`StepUpService.require_step_up` with the acting principal and an action name
before doing something risky; the risk engine can pass ``demanded=True`` to require a fresh
factor for any action it finds suspicious. A TOTP code, a passkey assertion or face + liveness
satisfy it, except that face alone never authorises moving money: the session must also rest on
a knowledge or possession factor.
"""

from __future__ import annotations

from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from finbridge.core.clock import Clock
from finbridge.core.errors import AuthenticationFailed, StepUpRequired
from finbridge.core.principal import Principal, PrincipalKind
from finbridge.identity._time import aware
from finbridge.identity.audit import AuditLog
from finbridge.identity.config import IdentityConfig
from finbridge.identity.credentials import TotpService
from finbridge.identity.events import emit_auth
from finbridge.identity.tables import SessionRow
from finbridge.store.engine import unit_of_work

MONEY_PREFIXES = ("transfer.", "payment.", "investment.", "withdrawal.")
NON_FACE_FACTORS = frozenset({"pwd", "otp", "hwk"})
METHODS = ("totp", "passkey", "face")


class StepUpService:
    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        totp: TotpService,
        audit: AuditLog,
        config: IdentityConfig,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._totp = totp
        self._audit = audit
        self._config = config

    def is_high_risk(self, action: str) -> bool:
        return action in self._config.high_risk_actions

    def require_step_up(self, principal: Principal, action: str, *, demanded: bool = False) -> None:
        """Raise :class:`StepUpRequired` unless a fresh second factor covers ``action``."""
        if principal.kind is not PrincipalKind.CUSTOMER:
            return  # staff and systems are controlled by role and four-eyes rules instead
        if not (demanded or self.is_high_risk(action)):
            return
        required = StepUpRequired(
            f"{action} needs a fresh second factor",
            field="step_up",
            action=action,
            methods=list(METHODS),
        )
        if principal.session_id is None:
            raise required
        with unit_of_work(self._engine, write=False) as session:
            row = session.get(SessionRow, principal.session_id)
        if row is None or row.revoked_at is not None or row.stepped_up_at is None:
            raise required
        if self._clock.now() - aware(row.stepped_up_at) > self._config.step_up_window:
            raise required
        face_only = row.step_up_method == "face" and not NON_FACE_FACTORS & set(row.amr)
        if action.startswith(MONEY_PREFIXES) and face_only:
            raise StepUpRequired(
                "face alone cannot authorise moving money; confirm with TOTP or a passkey",
                field="step_up",
                action=action,
                methods=["totp", "passkey"],
            )

    def record(self, session: Session, principal: Principal, method: str) -> None:
        """Mark the principal's session as freshly stepped up (inside the caller's transaction)."""
        if principal.session_id is None:
            raise AuthenticationFailed("step-up needs a customer session", field="session_id")
        now = self._clock.now()
        session.execute(
            update(SessionRow)
            .where(SessionRow.id == principal.session_id, SessionRow.revoked_at.is_(None))
            .values(stepped_up_at=now, step_up_method=method)
        )
        self._audit.append(
            session,
            actor=principal.id,
            action="step_up",
            subject=principal.id,
            outcome="success",
            detail={"method": method},
        )
        emit_auth(
            session,
            now,
            action="step_up",
            outcome="success",
            customer_id=principal.id,
            method=method,
            session_id=principal.session_id,
        )

    def refuse(self, principal: Principal, method: str, reason: str) -> None:
        with unit_of_work(self._engine) as session:
            self._audit.append(
                session,
                actor=principal.id,
                action="step_up",
                subject=principal.id,
                outcome="failure",
                detail={"method": method, "reason": reason},
            )
            emit_auth(
                session,
                self._clock.now(),
                action="step_up",
                outcome="failure",
                customer_id=principal.id,
                method=method,
                reason=reason,
            )

    def with_totp(self, principal: Principal, code: str) -> None:
        if principal.kind is not PrincipalKind.CUSTOMER or principal.customer_id is None:
            raise AuthenticationFailed("step-up needs a customer session", field="session_id")
        ok = False
        with unit_of_work(self._engine) as session:
            ok = self._totp.verify(session, principal.customer_id, code)
            if ok:
                self.record(session, principal, "totp")
        if not ok:
            self.refuse(principal, "totp", "wrong or reused code")
            raise AuthenticationFailed("code not accepted", field="code")

    def forget(self, customer_id: str) -> None:
        """Risk engine: drop any fresh step-up on the customer's sessions (e.g. after an alert)."""
        with unit_of_work(self._engine) as session:
            session.execute(
                update(SessionRow)
                .where(SessionRow.customer_id == customer_id)
                .values(stepped_up_at=None, step_up_method=None)
            )

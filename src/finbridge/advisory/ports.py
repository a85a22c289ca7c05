"""What advisory needs from other engines, as small protocols the platform fills."""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy.orm import Session

from finbridge.core.principal import Principal


class SecondFactorPort(Protocol):
    """Identity's step-up: raise ``StepUpRequired`` unless the principal's session holds a
    fresh second factor for ``action`` (``demanded`` asks even for actions not high-risk)."""

    def require_step_up(
        self, principal: Principal, action: str, *, demanded: bool = False
    ) -> None: ...


class AuditPort(Protocol):
    """Identity's hash-chained audit log: one record inside the caller's transaction, so the
    evidence row and its audit line commit together or not at all."""

    def append(
        self,
        session: Session,
        *,
        actor: str,
        action: str,
        subject: str | None,
        outcome: str,
        detail: dict[str, Any] | None = None,
    ) -> int: ...

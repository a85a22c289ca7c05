"""What open banking needs from other engines, as small protocols the platform fills."""

from __future__ import annotations

from typing import Protocol

from finbridge.core.principal import Principal


class SecondFactorPort(Protocol):
    """Identity's step-up: raise ``StepUpRequired`` unless the customer's session holds a fresh
    second factor for ``action`` (``demanded`` asks even for actions not listed high-risk)."""

    def require_step_up(
        self, principal: Principal, action: str, *, demanded: bool = False
    ) -> None: ...

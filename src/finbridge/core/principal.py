"""Who is acting: the authenticated principal every service call is authorised against.

Object-level authorisation lives in the services (not the routes), so every interface (API,
console, CLI) gets the same checks. Interfaces only turn credentials into a ``Principal``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from finbridge.core.errors import PermissionDenied


class PrincipalKind(StrEnum):
    OPERATOR = "operator"  # bank staff or a system integration, acting by role/scope
    CUSTOMER = "customer"  # an end customer, acting on their own objects only
    THIRD_PARTY = "third_party"  # an open-banking app acting under a customer's consent
    SYSTEM = "system"  # the platform itself (batch jobs, demo seeding, CLI)


class Role(StrEnum):
    TELLER = "teller"
    RISK_ANALYST = "risk_analyst"
    ADMIN = "admin"
    PARTNER = "partner"
    QUANT_RESEARCHER = "quant_researcher"
    CREDIT_OFFICER = "credit_officer"
    MARKETER = "marketer"
    ADVISER = "adviser"


# Scopes an operator role carries. Scopes are strings "<area>:<verb>".
ROLE_SCOPES: dict[Role, frozenset[str]] = {
    Role.TELLER: frozenset(
        {
            "customers:read",
            "customers:write",
            "accounts:read",
            "accounts:write",
            "transfers:write",
            # Dual control: a teller approves another operator's large movement, never their own.
            "transfers:approve",
            "events:read",
            "payments:read",
            "payments:write",
        }
    ),
    Role.RISK_ANALYST: frozenset(
        {
            "customers:read",
            "accounts:read",
            "events:read",
            "risk:read",
            "risk:write",
            "credit:read",
            "identity:read",
            "payments:read",
        }
    ),
    Role.QUANT_RESEARCHER: frozenset({"quant:run", "quant:read", "events:read"}),
    Role.CREDIT_OFFICER: frozenset(
        {"customers:read", "credit:read", "credit:score", "credit:write"}
        | {"lending:read", "lending:write", "lending:cob"}
    ),
    # Partners never hold events:read (every customer's events): "events:read:partner" lets
    # them read their own ingestions and what customers agreed to share with them.
    # A partner is also an open-banking developer: it registers and manages its own apps.
    Role.PARTNER: frozenset({"events:write", "events:read:partner", "openbanking:write"}),
    Role.MARKETER: frozenset({"acquisition:read", "acquisition:write", "customers:read"}),
    # Investment advisers: profiles, suitability evidence, orders and rebalancing; they can
    # never confirm an above-level purchase for an investor (the service refuses staff).
    Role.ADVISER: frozenset({"advisory:read", "advisory:write", "customers:read", "accounts:read"}),
    Role.ADMIN: frozenset({"*"}),
}


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated actor."""

    kind: PrincipalKind
    id: str
    scopes: frozenset[str] = field(default_factory=frozenset)
    customer_id: str | None = None  # set for customers and for third parties acting for one
    session_id: str | None = None
    display: str = ""

    @classmethod
    def system(cls, name: str = "system") -> Principal:
        return cls(PrincipalKind.SYSTEM, name, frozenset({"*"}), display=name)

    @classmethod
    def operator(
        cls, op_id: str, roles: list[Role] | tuple[Role, ...], display: str = ""
    ) -> Principal:
        scopes: set[str] = set()
        for role in roles:
            scopes |= ROLE_SCOPES[role]
        return cls(PrincipalKind.OPERATOR, op_id, frozenset(scopes), display=display or op_id)

    @classmethod
    def customer(cls, customer_id: str, session_id: str | None = None) -> Principal:
        scopes = frozenset(
            {"accounts:read", "transfers:write", "customers:read:self", "events:write:self"}
        )
        return cls(
            PrincipalKind.CUSTOMER,
            customer_id,
            scopes,
            customer_id=customer_id,
            session_id=session_id,
            display=f"customer {customer_id[:8]}",
        )

    def has_scope(self, scope: str) -> bool:
        if "*" in self.scopes or scope in self.scopes:
            return True
        area = scope.split(":", 1)[0]
        return f"{area}:*" in self.scopes

    def require_scope(self, scope: str) -> None:
        if not self.has_scope(scope):
            raise PermissionDenied(f"{self.display or self.id} lacks scope {scope!r}")

    def can_act_for(self, customer_id: str) -> bool:
        """Customers act only for themselves; operators and system by scope."""
        if self.kind in (PrincipalKind.CUSTOMER, PrincipalKind.THIRD_PARTY):
            return self.customer_id == customer_id
        return True

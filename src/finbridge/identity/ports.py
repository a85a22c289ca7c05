"""What identity needs from other engines, as ports the composition root fills.

Identity never imports banking: registration opens the banking customer (the id a person is
keyed by) through :class:`CustomerFactory`, which the platform wires to banking's face.
"""

from __future__ import annotations

from typing import Protocol

from finbridge.core.ids import new_id


class CustomerFactory(Protocol):
    """Opens the customer a registering person becomes, and takes it back if registration fails.

    ``create`` runs in the other engine's own transaction (banking cannot share identity's), so
    registration compensates: if identity's transaction then fails, it calls ``discard`` and no
    customer is left without a person.
    """

    def create(self, display_name: str) -> str:
        """A new customer under ``display_name`` (masked: no plaintext PII leaves identity)."""
        ...

    def discard(self, customer_id: str) -> None:
        """Undo :meth:`create` for a customer nothing else refers to yet."""
        ...


class MintedCustomerIds:
    """Identity on its own (engine tests, tools): mints ids, nothing to take back."""

    def create(self, display_name: str) -> str:
        return new_id()

    def discard(self, customer_id: str) -> None:
        return None

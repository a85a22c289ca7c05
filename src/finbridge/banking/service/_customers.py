"""Customers: create, read, list, count."""

from __future__ import annotations

from sqlalchemy import func, select

from finbridge.banking.models import Customer, CustomerKind, Page
from finbridge.banking.service._checks import (
    customer_from,
    enum_value,
    is_customer,
    page_limit,
    text,
)
from finbridge.banking.service._core import ServiceCore
from finbridge.banking.tables import accounts_table, customers_table
from finbridge.core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from finbridge.core.ids import new_id
from finbridge.core.principal import Principal

customers = customers_table
accounts = accounts_table


class CustomerCommands(ServiceCore):
    def create_customer(
        self,
        actor: Principal,
        *,
        kind: CustomerKind | str,
        display_name: str,
        external_ref: str | None = None,
    ) -> Customer:
        actor.require_scope("customers:write")
        kind = enum_value(CustomerKind, kind, "kind")
        name = text(display_name, "display_name", 200).strip()
        if not name:
            raise ValidationError("display name is required", field="display_name")
        if external_ref is not None:
            text(external_ref, "external_ref", 64)
        customer = Customer(
            id=new_id(),
            kind=kind,
            display_name=name,
            status="active",
            created_at=self.clock.now(),
            external_ref=external_ref,
        )
        with self._write() as conn:
            if (
                external_ref is not None
                and conn.execute(
                    select(customers.c.id).where(customers.c.external_ref == external_ref)
                ).first()
            ):
                raise Conflict("a customer with this external_ref exists", field="external_ref")
            conn.execute(
                customers.insert(),
                {
                    "id": customer.id,
                    "kind": kind.value,
                    "display_name": name,
                    "status": "active",
                    "external_ref": external_ref,
                    "created_at": customer.created_at,
                },
            )
            self._emit(
                conn,
                self._event(
                    "customer.created",
                    {"customer_id": customer.id, "kind": kind.value, "status": "active"},
                    customer.id,
                ),
            )
        return customer

    def discard_customer(
        self, actor: Principal, customer_id: str, *, reason: str = "registration failed"
    ) -> None:
        """Close a customer that was opened moments ago and never used (no account): what a
        registration that failed after opening its customer undoes. Rows are never deleted;
        the customer is closed and a ``customer.closed`` event says why."""
        actor.require_scope("customers:write")
        with self._write() as conn:
            row = conn.execute(
                select(customers.c.status).where(customers.c.id == customer_id)
            ).first()
            if row is None:
                raise NotFound(f"customer {customer_id} not found", field="customer_id")
            has_account = conn.execute(
                select(accounts.c.id).where(accounts.c.customer_id == customer_id).limit(1)
            ).first()
            if has_account is not None:
                raise Conflict("a customer with accounts cannot be discarded", field="customer_id")
            if row.status == "closed":
                return
            conn.execute(
                customers.update().where(customers.c.id == customer_id).values(status="closed")
            )
            self._emit(
                conn,
                self._event(
                    "customer.closed",
                    {"customer_id": customer_id, "reason": text(reason, "reason", 200)},
                    customer_id,
                ),
            )

    def get_customer(self, actor: Principal, customer_id: str) -> Customer:
        self._require_customer_read(actor, customer_id)
        with self._read() as conn:
            row = conn.execute(select(customers).where(customers.c.id == customer_id)).first()
        if row is None:
            raise NotFound(f"customer {customer_id} not found", field="customer_id")
        return customer_from(row._mapping)

    def list_customers(
        self, actor: Principal, *, limit: int = 50, cursor: str | None = None
    ) -> Page[Customer]:
        """Operators only: customers newest first (ids are time-ordered)."""
        if is_customer(actor):
            raise PermissionDenied("customers cannot list other customers")
        actor.require_scope("customers:read")
        limit = page_limit(limit)
        stmt = select(customers).order_by(customers.c.id.desc()).limit(limit + 1)
        if cursor:
            stmt = stmt.where(customers.c.id < cursor)
        with self._read() as conn:
            rows = [customer_from(r._mapping) for r in conn.execute(stmt)]
        more = len(rows) > limit
        rows = rows[:limit]
        return Page(rows, rows[-1].id if more else None)

    def count_customers(self, actor: Principal) -> int:
        """How many customers the bank has (the console's overview figure)."""
        actor.require_scope("customers:read")  # customers hold only customers:read:self
        with self._read() as conn:
            return int(conn.execute(select(func.count()).select_from(customers)).scalar_one())

    def _require_customer_read(self, actor: Principal, customer_id: str) -> None:
        if is_customer(actor):
            if actor.customer_id != customer_id:
                raise NotFound(f"customer {customer_id} not found", field="customer_id")
        else:
            actor.require_scope("customers:read")

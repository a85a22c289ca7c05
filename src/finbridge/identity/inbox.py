"""The customer inbox: messages other engines deliver to a customer (offers, the finance
breakfast, notices), read in the customer app.

Delivery is a platform act (a system principal or an operator with ``messages:write``); reading
and marking read are the customer's own (operators with ``customers:read`` may list them). A
customer reaching for another customer's message gets the same 404 as for a message that does
not exist, and the probe is audited.

A delivery with a ``ref`` is idempotent per (customer, kind, ref): a daily job that runs twice
delivers once. Links are same-site paths only (``/app/...``), so a message can never carry a
``javascript:`` or off-site URL into the app.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from finbridge.core.clock import Clock
from finbridge.core.errors import NotFound, ValidationError
from finbridge.core.ids import new_id
from finbridge.core.principal import Principal, PrincipalKind
from finbridge.identity.audit import AuditLog, foreign_object
from finbridge.identity.tables import InboxMessageRow
from finbridge.store.engine import unit_of_work

_KIND = re.compile(r"[a-z][a-z0-9_.-]{1,31}")
_LINK = re.compile(r"/[A-Za-z0-9_\-./?=&%]{0,398}")
_REF = re.compile(r"[A-Za-z0-9_.:\-]{1,120}")
MAX_TITLE = 200
MAX_BODY = 4000
MAX_PAGE = 200


@dataclass(frozen=True, slots=True)
class InboxMessage:
    id: str
    customer_id: str
    kind: str
    title: str
    body: str
    link: str | None
    ref: str | None
    created_at: datetime
    read_at: datetime | None

    @property
    def unread(self) -> bool:
        return self.read_at is None


def _to_message(row: InboxMessageRow) -> InboxMessage:
    return InboxMessage(
        row.id,
        row.customer_id,
        row.kind,
        row.title,
        row.body,
        row.link,
        row.ref,
        row.created_at,
        row.read_at,
    )


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """One message of a bulk delivery (:meth:`InboxService.deliver_many`)."""

    customer_id: str
    title: str
    body: str
    ref: str
    link: str | None = None


def _check_message(
    customer_id: str, kind: str, title: str, body: str, ref: str | None, link: str | None
) -> None:
    if not customer_id:
        raise ValidationError("customer_id is required", field="customer_id")
    if not _KIND.fullmatch(kind or ""):
        raise ValidationError("kind must be a short lower-case name", field="kind")
    if not title or not title.strip() or len(title) > MAX_TITLE:
        raise ValidationError(f"title must be 1-{MAX_TITLE} characters", field="title")
    if not body or not body.strip() or len(body) > MAX_BODY:
        raise ValidationError(f"body must be 1-{MAX_BODY} characters", field="body")
    if ref is not None and not _REF.fullmatch(ref):
        raise ValidationError("ref must be a short identifier", field="ref")
    _check_link(link)


def _check_link(link: str | None) -> None:
    if link is None:
        return
    # Same-site paths only; "//host" would be protocol-relative, i.e. off-site.
    if not _LINK.fullmatch(link) or link.startswith("//") or ".." in link:
        raise ValidationError("link must be a same-site path such as /app/offers", field="link")


class InboxService:
    def __init__(self, engine: Engine, clock: Clock, audit: AuditLog) -> None:
        self._engine = engine
        self._clock = clock
        self._audit = audit

    def deliver(
        self,
        actor: Principal,
        customer_id: str,
        *,
        kind: str,
        title: str,
        body: str,
        link: str | None = None,
        ref: str | None = None,
    ) -> InboxMessage:
        """Put a message in ``customer_id``'s inbox (once per kind and ``ref`` when given)."""
        actor.require_scope("messages:write")
        _check_message(customer_id, kind, title, body, ref, link)
        if ref is not None:
            existing = self._by_ref(customer_id, kind, ref)
            if existing is not None:
                return existing
        row = InboxMessageRow(
            id=new_id(),
            customer_id=customer_id,
            kind=kind,
            title=title.strip(),
            body=body.strip(),
            link=link,
            ref=ref,
            created_at=self._clock.now(),
            read_at=None,
        )
        try:
            with unit_of_work(self._engine) as session:
                session.add(row)
        except IntegrityError:
            # A racing delivery with the same ref won; its message is the one delivery.
            existing = self._by_ref(customer_id, kind, ref) if ref is not None else None
            if existing is None:
                raise
            return existing
        return _to_message(row)

    def deliver_many(
        self, actor: Principal, kind: str, messages: Sequence[OutgoingMessage]
    ) -> None:
        """Deliver many messages of one ``kind`` in one transaction, each once per ``ref`` (a
        ref already in that customer's inbox is skipped, as :meth:`deliver` does): a campaign's
        batch. Every message is checked before anything is written."""
        actor.require_scope("messages:write")
        for m in messages:
            _check_message(m.customer_id, kind, m.title, m.body, m.ref, m.link)
        if not messages:
            return
        now = self._clock.now()
        rows = [
            {
                "id": new_id(),
                "customer_id": m.customer_id,
                "kind": kind,
                "title": m.title.strip(),
                "body": m.body.strip(),
                "link": m.link,
                "ref": m.ref,
                "created_at": now,
                "read_at": None,
            }
            for m in messages
        ]
        # Skipping on the (customer, kind, ref) unique key keeps the once-per-ref promise
        # without reading first; both dialects spell it ON CONFLICT DO NOTHING.
        table = InboxMessageRow.__table__
        dialect = postgresql if self._engine.dialect.name == "postgresql" else sqlite
        with unit_of_work(self._engine) as session:
            session.execute(dialect.insert(table).on_conflict_do_nothing(), rows)

    def _by_ref(self, customer_id: str, kind: str, ref: str) -> InboxMessage | None:
        with unit_of_work(self._engine, write=False) as session:
            row = session.scalars(
                select(InboxMessageRow).where(
                    InboxMessageRow.customer_id == customer_id,
                    InboxMessageRow.kind == kind,
                    InboxMessageRow.ref == ref,
                )
            ).first()
            return None if row is None else _to_message(row)

    def _check_reader(self, actor: Principal, customer_id: str) -> None:
        if actor.kind in (PrincipalKind.CUSTOMER, PrincipalKind.THIRD_PARTY):
            if not actor.can_act_for(customer_id):
                raise foreign_object(self._audit, actor.id, customer_id, "inbox")
        else:
            actor.require_scope("customers:read")

    def list(
        self,
        actor: Principal,
        customer_id: str,
        *,
        unread_only: bool = False,
        limit: int = 50,
        offset: int = 0,
    ) -> list[InboxMessage]:
        """Newest first."""
        self._check_reader(actor, customer_id)
        if not 1 <= limit <= MAX_PAGE:
            raise ValidationError(f"limit must be 1-{MAX_PAGE}", field="limit")
        if offset < 0:
            raise ValidationError("offset must not be negative", field="offset")
        query = select(InboxMessageRow).where(InboxMessageRow.customer_id == customer_id)
        if unread_only:
            query = query.where(InboxMessageRow.read_at.is_(None))
        query = query.order_by(InboxMessageRow.created_at.desc(), InboxMessageRow.id.desc())
        with unit_of_work(self._engine, write=False) as session:
            rows = session.scalars(query.limit(limit).offset(offset)).all()
            return [_to_message(r) for r in rows]

    def unread_count(self, actor: Principal, customer_id: str) -> int:
        self._check_reader(actor, customer_id)
        with unit_of_work(self._engine, write=False) as session:
            count = session.scalar(
                select(func.count())
                .select_from(InboxMessageRow)
                .where(
                    InboxMessageRow.customer_id == customer_id,
                    InboxMessageRow.read_at.is_(None),
                )
            )
        return int(count or 0)

    def newest_unread(self, actor: Principal, customer_id: str) -> tuple[int, InboxMessage | None]:
        """How many messages are unread and the newest of them, in one statement (the app's
        home tile asks on every visit: one round trip, not a count and a list)."""
        self._check_reader(actor, customer_id)
        query = (
            select(InboxMessageRow, func.count().over().label("unread"))
            .where(InboxMessageRow.customer_id == customer_id, InboxMessageRow.read_at.is_(None))
            .order_by(InboxMessageRow.created_at.desc(), InboxMessageRow.id.desc())
            .limit(1)
        )
        with unit_of_work(self._engine, write=False) as session:
            found = session.execute(query).first()
            if found is None:
                return 0, None
            return int(found.unread), _to_message(found[0])

    def get(self, actor: Principal, message_id: str) -> InboxMessage:
        with unit_of_work(self._engine, write=False) as session:
            row = session.get(InboxMessageRow, message_id)
            message = None if row is None else _to_message(row)
        return self._visible(actor, message, message_id)

    def _visible(
        self, actor: Principal, message: InboxMessage | None, message_id: str
    ) -> InboxMessage:
        if message is None:
            raise NotFound(f"no message {message_id}", field="message_id")
        if actor.kind in (PrincipalKind.CUSTOMER, PrincipalKind.THIRD_PARTY):
            if not actor.can_act_for(message.customer_id):
                foreign_object(self._audit, actor.id, message.customer_id, "inbox")
                raise NotFound(f"no message {message_id}", field="message_id")
        else:
            actor.require_scope("customers:read")
        return message

    def mark_read(self, actor: Principal, message_id: str) -> InboxMessage:
        """Only the addressee marks a message read (an operator reading it does not)."""
        message = self.get(actor, message_id)
        if actor.kind is not PrincipalKind.CUSTOMER:
            actor.require_scope("messages:write")
        if message.read_at is not None:
            return message
        now = self._clock.now()
        with unit_of_work(self._engine) as session:
            session.execute(
                update(InboxMessageRow)
                .where(InboxMessageRow.id == message_id, InboxMessageRow.read_at.is_(None))
                .values(read_at=now)
            )
        return self.get(actor, message_id)

    def mark_all_read(self, actor: Principal, customer_id: str) -> int:
        """Mark every unread message read; returns how many changed."""
        self._check_reader(actor, customer_id)
        if actor.kind is not PrincipalKind.CUSTOMER:
            actor.require_scope("messages:write")
        with unit_of_work(self._engine) as session:
            result = session.execute(
                update(InboxMessageRow)
                .where(
                    InboxMessageRow.customer_id == customer_id,
                    InboxMessageRow.read_at.is_(None),
                )
                .values(read_at=self._clock.now())
            )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

"""Velocity of events the engine did not decide: what the ``risk-velocity`` stream consumer feeds.

A decision gateway in another process reads the same windows (Redis, when configured) and must
see money that moved without it: partner card payments (``card.transaction``) and ledger
postings (``transaction.posted``) nobody asked it about. Each such event is turned into the
decision request the engine would have been given (the posting guard's own mapping: customer,
or ``account:<id>`` for an account without one, the paying account, the payee) and its velocity
is recorded on exactly the keys a decision uses (:func:`~finbridge.risk.decisions.velocity_event`).

Never counted twice:

- an event the engine itself decided is already in the windows. A decision taken with the
  event's own id (the gateway deciding a card event) is found by that id; a posting decided by
  the posting guard carries the guard's id (from the idempotency key), so it is found by what
  the guard asked: same type, customer, amount and currency at the posting's very instant (the
  ledger stamps the event with the time it gave the guard). A *degraded* decision never reached
  the windows (the store was down), so its event is counted now;
- an event redelivered by the stream after its effect was kept is refused by the velocity
  store's claim on its event id (shared in Redis) before anything is added.

Left out, and counted as such: refunds, postings that are not spending (deposits, interest,
opening balances, multi-leg journals), and events older than a window's watermark allows
(``LateEvent``: windows never move backwards, so a consumer lagging past the allowed lateness
cannot add them; they stay in the lake for the offline features).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from finbridge.core.errors import ValidationError
from finbridge.lake import Event
from finbridge.risk.decisions import (
    DecisionRequest,
    EntityFlood,
    LateEvent,
    VelocityStore,
    parse_request,
    velocity_event,
)
from finbridge.risk.decisions._velocity import ObservedOnce
from finbridge.risk.tables import DecisionRow

log = logging.getLogger("finbridge.risk.observed")

OBSERVED_TYPES: tuple[str, ...] = ("transaction.posted", "card.transaction")
# Ledger kinds the posting guard decides, as its decision types (``posting._KINDS``).
_POSTED = {
    "transfer": "transfer",
    "withdrawal": "withdrawal",
    "card_payment": "payment",
    "hold_capture": "payment",
}


@dataclass(frozen=True, slots=True)
class ObserveResult:
    counted: int = 0
    decided: int = 0  # the engine decided it: already in the windows
    repeated: int = 0  # claimed before (a redelivery whose effect was kept)
    ignored: int = 0  # not spending (refunds, deposits, interest, journals)
    late: int = 0  # older than the windows' watermark allows, or an entity flood


def request_of(event: Event) -> dict[str, Any] | None:
    """The decision request the engine would have been given for ``event`` (None: not spend)."""
    p = event.payload
    if event.event_type == "card.transaction":
        if p.get("kind", "purchase") != "purchase":
            return None
        return {
            "event_type": "payment",
            "occurred_at": event.occurred_at,
            "customer_id": p["customer_id"],
            "amount": p["amount"],
            "currency": p["currency"],
            "terminal_id": p["terminal_id"],
        }
    if event.event_type == "transaction.posted":
        kind = _POSTED.get(p.get("kind", ""))
        if kind is None:
            return None
        req: dict[str, Any] = {
            "event_type": kind,
            "occurred_at": event.occurred_at,
            "customer_id": p.get("from_customer_id") or f"account:{p['from_account_id']}",
            "amount": p["amount"],
            "currency": p["currency"],
            "account_id": p["from_account_id"],
            "channel": p.get("channel"),
        }
        if kind in ("transfer", "payment"):
            req["payee_id"] = p.get("to_customer_id") or p["to_account_id"]
        return req
    return None


def _decided(session: Session, event_id: str, req: DecisionRequest) -> bool:
    """Whether a live, non-degraded decision already put this event in the windows."""
    by_id = select(DecisionRow.degraded).where(
        DecisionRow.event_id == event_id, DecisionRow.mode == "live"
    )
    found = session.execute(by_id).first()
    if found is None:
        by_posting = select(DecisionRow.degraded).where(
            DecisionRow.mode == "live",
            DecisionRow.customer_id == req.customer_id,
            DecisionRow.occurred_at == req.occurred_at,
            DecisionRow.event_type == req.event_type,
            DecisionRow.amount_minor == req.amount.minor,
            DecisionRow.currency == req.amount.code,
        )
        found = session.execute(by_posting).first()
    return found is not None and found.degraded is None


def observe(session: Session, velocity: VelocityStore, events: Sequence[Event]) -> ObserveResult:
    """Record the velocity of ``events`` the engine did not decide (see the module docstring).

    ``session`` only reads the decisions; a velocity store without claims (a stand-in) is
    refused rather than risk double counting."""
    if not isinstance(velocity, ObservedOnce):
        raise TypeError(f"{type(velocity).__name__} cannot claim observed events")
    counted = decided = repeated = ignored = late = 0
    for event in events:
        data = request_of(event)
        if data is None:
            ignored += 1
            continue
        try:
            req = parse_request(data)
        except ValidationError as exc:  # a schema-valid event the engine cannot read: say so
            log.warning("event %s not observed: %s", event.event_id, exc.detail)
            ignored += 1
            continue
        if _decided(session, event.event_id, req):
            decided += 1
            continue
        vev = velocity_event(req, event.event_id)
        if not velocity.claim(vev.event_id, vev.ts_ms):
            repeated += 1
            continue
        try:
            velocity.observe(vev)
        except (LateEvent, EntityFlood) as exc:
            log.info("event %s not counted: %s", event.event_id, exc.detail)
            late += 1  # the claim stays: a redelivery would be refused the same way
        except BaseException:
            velocity.release(vev.event_id)  # not counted: the redelivery must count it
            raise
        else:
            counted += 1
    return ObserveResult(counted, decided, repeated, ignored, late)

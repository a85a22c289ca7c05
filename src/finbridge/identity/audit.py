"""Append-only, hash-chained audit log.

Each record carries ``seq`` (1, 2, 3, ... with no gaps), the previous record's hash and its own
hash = HMAC-SHA256(audit key, canonical JSON of the record including ``seq`` and ``prev_hash``).
:meth:`AuditLog.verify` walks the chain and reports the first record that was modified
(hash mismatch), deleted (gap in ``seq`` / broken link) or reordered (link mismatch). The chain is
keyed with a secret derived from the platform secret, so someone who can write to the database
but does not hold the secret cannot forge a consistent chain after tampering. The table also has
database triggers refusing UPDATE and DELETE.

Appends are serialised (PostgreSQL transaction advisory lock; SQLite's write lock) so two
concurrent writers never fork the chain. Cutting records off the *end* leaves a valid shorter
chain, so it is only visible against a head kept elsewhere: ``finbridge audit head`` prints
``seq:hash`` and ``finbridge audit verify --anchor seq:hash`` checks against it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from finbridge.core.clock import Clock
from finbridge.core.errors import NotFound
from finbridge.core.settings import Settings
from finbridge.identity.tables import AuditRow
from finbridge.identity.vault import mask_text
from finbridge.store.engine import unit_of_work

GENESIS = "0" * 64
_PG_LOCK_ID = 0x1D3A_0D17  # arbitrary constant: "identity audit"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    seq: int
    at: datetime
    actor: str
    action: str
    subject: str | None
    outcome: str
    detail: dict[str, Any]


@dataclass(frozen=True, slots=True)
class AuditReport:
    ok: bool
    checked: int
    head_hash: str
    problems: list[str] = field(default_factory=list)

    @property
    def first_bad_seq(self) -> int | None:
        if not self.problems:
            return None
        return int(self.problems[0].split(":", 1)[0].removeprefix("seq "))


def _utc_naive_iso(at: datetime) -> str:
    # SQLite hands back naive datetimes, PostgreSQL aware ones: hash one canonical form.
    if at.tzinfo is not None:
        at = at.astimezone(UTC).replace(tzinfo=None)
    return at.isoformat(timespec="microseconds")


class AuditLog:
    def __init__(self, engine: Engine, clock: Clock, key: bytes) -> None:
        self._engine = engine
        self._clock = clock
        self._key = key

    @classmethod
    def from_settings(cls, engine: Engine, clock: Clock, settings: Settings) -> AuditLog:
        secret = settings.secret_key.get_secret_value().encode()
        key = HKDF(hashes.SHA256(), 32, salt=None, info=b"finbridge/audit/v1").derive(secret)
        return cls(engine, clock, key)

    def _digest(
        self,
        seq: int,
        at: datetime,
        actor: str,
        action: str,
        subject: str | None,
        outcome: str,
        detail: dict[str, Any],
        prev_hash: str,
    ) -> str:
        body = [seq, _utc_naive_iso(at), actor, action, subject, outcome, detail, prev_hash]
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hmac.new(self._key, canonical.encode(), hashlib.sha256).hexdigest()

    def append(
        self,
        session: Session,
        *,
        actor: str,
        action: str,
        subject: str | None,
        outcome: str,
        detail: dict[str, Any] | None = None,
    ) -> int:
        """Add one record inside the caller's transaction; returns its ``seq``."""
        # Flush the caller's pending row changes first, so every transaction takes its row locks
        # before the chain lock: one lock order everywhere, no deadlock between them.
        session.flush()
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_ID})
        last = session.execute(
            select(AuditRow.seq, AuditRow.hash).order_by(AuditRow.seq.desc()).limit(1)
        ).first()
        seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
        # Free text in details is masked: the audit log must not become a PII copy.
        clean = {k: mask_text(v) if isinstance(v, str) else v for k, v in (detail or {}).items()}
        at = self._clock.now()
        # Store microsecond-exact UTC so the hash recomputes identically on both backends.
        row = AuditRow(
            seq=seq,
            at=at,
            actor=actor[:80],
            action=action[:64],
            subject=subject,
            outcome=outcome,
            detail=clean,
            prev_hash=prev,
            hash=self._digest(seq, at, actor[:80], action[:64], subject, outcome, clean, prev),
        )
        session.add(row)
        session.flush()
        return seq

    def record(self, **kwargs: Any) -> int:
        """Append in a transaction of its own (for refusals, where the caller's work rolls back)."""
        with unit_of_work(self._engine) as session:
            return self.append(session, **kwargs)

    def verify(self, anchor: tuple[int, str] | None = None) -> AuditReport:
        """Walk the chain. ``anchor`` = a (seq, hash) head recorded earlier elsewhere (printed by
        ``finbridge audit head``): records cut off the end since then are reported too."""
        problems: list[str] = []
        anchored = False
        expected_seq, prev, count = 1, GENESIS, 0
        with unit_of_work(self._engine, write=False) as session:
            rows = session.execute(select(AuditRow).order_by(AuditRow.seq)).scalars()
            for row in rows:
                count += 1
                if row.seq != expected_seq:
                    problems.append(
                        f"seq {row.seq}: expected seq {expected_seq} (records deleted or moved)"
                    )
                if row.prev_hash != prev:
                    problems.append(f"seq {row.seq}: link to the previous record is broken")
                digest = self._digest(
                    row.seq,
                    row.at,
                    row.actor,
                    row.action,
                    row.subject,
                    row.outcome,
                    row.detail,
                    row.prev_hash,
                )
                if not hmac.compare_digest(digest, row.hash):
                    problems.append(f"seq {row.seq}: content does not match its hash (modified)")
                if anchor is not None and row.seq == anchor[0]:
                    anchored = True
                    if not hmac.compare_digest(row.hash, anchor[1]):
                        problems.append(f"seq {row.seq}: differs from the recorded head")
                expected_seq, prev = row.seq + 1, row.hash
        if anchor is not None and not anchored:
            problems.append(
                f"seq {expected_seq}: the log ends before the recorded head seq {anchor[0]}"
                " (records cut off the end)"
            )
        return AuditReport(not problems, count, prev, problems)

    def head(self) -> tuple[int, str]:
        """The newest (seq, hash): keep it outside the database to detect later truncation."""
        with unit_of_work(self._engine, write=False) as session:
            last = session.execute(
                select(AuditRow.seq, AuditRow.hash).order_by(AuditRow.seq.desc()).limit(1)
            ).first()
        return (int(last[0]), str(last[1])) if last else (0, GENESIS)

    def entries(self, subject: str | None = None, limit: int = 100) -> list[AuditEntry]:
        stmt = select(AuditRow).order_by(AuditRow.seq.desc()).limit(limit)
        if subject is not None:
            stmt = stmt.where(AuditRow.subject == subject)
        with unit_of_work(self._engine, write=False) as session:
            rows = session.scalars(stmt).all()
        return [
            AuditEntry(r.seq, r.at, r.actor, r.action, r.subject, r.outcome, dict(r.detail))
            for r in rows
        ]

    def count(self) -> int:
        with unit_of_work(self._engine, write=False) as session:
            return int(session.scalar(select(func.count()).select_from(AuditRow)) or 0)


def foreign_object(audit: AuditLog, actor_id: str, customer_id: str, what: str) -> NotFound:
    """Record a customer reaching for another customer's object (BOLA) and return the refusal.

    The refusal is a 404, not a 403, so probing ids does not even confirm that they exist.
    """
    audit.record(
        actor=actor_id,
        action="access.denied",
        subject=customer_id,
        outcome="refused",
        detail={"object": what, "reason": "not the caller's own"},
    )
    return NotFound(f"no customer {customer_id}", field="customer_id")

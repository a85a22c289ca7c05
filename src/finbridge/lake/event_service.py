"""The lake's service layer: every interface (API, console, CLI) goes through these checks.

- ``events:write`` to ingest. Only principals holding ``events:admin`` (admins, the platform
  itself) may name an arbitrary ``source``; a partner's files are always recorded under
  ``partner:<its key id>``, so one partner cannot mint event ids in another's namespace.
- ``events:read`` (operators by role) to read every event; a customer (or an app acting for
  one) reads only the events whose subject is that customer, whatever filter it asks for.
- A partner (``events:read:partner``, never ``events:read``) reads only the events its own files
  brought in (source ``partner:<key id>``) and the events of customers who consented to share
  with it (an active consent with purpose ``data_sharing:<key id>`` whose scope lists the event
  types), checked here through the :class:`SharingConsents` port the platform wires to identity.
- Ingestion reports (partner files, rejection reasons) are operator data: ``events:read`` and not
  a customer principal; a partner reads the reports of its own files only.
- Analytics over all customers' events (:meth:`EventService.daily_volume`), the events
  catalogue, the batch log and quarantined rows likewise: operators with ``events:read`` only.
- Releasing or discarding a quarantined batch, compacting and vacuuming the table:
  ``events:admin``; each decision is recorded with who, when and why (the quarantine's
  append-only actions table).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import Engine

from finbridge.core.clock import Clock
from finbridge.core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from finbridge.core.principal import Principal, PrincipalKind
from finbridge.lake.catalogue import BatchRecord, CatalogueEntry, batch_log, catalogue
from finbridge.lake.eventlake import Commit, EventLake, PartnerView, StoredEvent, table_schema
from finbridge.lake.events import Event
from finbridge.lake.ingest import Ingestor, IngestReport, ProgressFn, Rejection
from finbridge.lake.relay import OutboxRelay, RelayResult

if TYPE_CHECKING:
    import pyarrow as pa

_CUSTOMER_KINDS = (PrincipalKind.CUSTOMER, PrincipalKind.THIRD_PARTY)

# Per day and currency: how many money movements and their total, from the lake's
# transaction.posted events (opening balances are seeding, not activity, so they are left out).
_DAILY_VOLUME_SQL = """
SELECT date,
       json_extract_string(payload, '$.currency') AS currency,
       count(*) AS n,
       sum(CAST(json_extract_string(payload, '$.amount') AS DECIMAL(38, 4))) AS total
FROM events
WHERE event_type = 'transaction.posted'
  AND json_extract_string(payload, '$.kind') <> 'opening_balance'
GROUP BY 1, 2
ORDER BY 1, 2
"""


class SharingConsents(Protocol):
    """Customers' active consents to one purpose and the data each covers (identity's)."""

    def consenting(self, purpose: str) -> Mapping[str, frozenset[str]]: ...


def sharing_purpose(partner_key_id: str) -> str:
    """The consent purpose under which a customer shares events with one partner."""
    return f"data_sharing:{partner_key_id}"


def partner_source(partner_key_id: str) -> str:
    """The source a partner's files are recorded under (its own namespace)."""
    return f"partner:{partner_key_id}"[:64]


@dataclass(frozen=True, slots=True)
class DailyVolume:
    """Money movements posted on one day in one currency."""

    day: date
    currency: str
    movements: int
    total: Decimal


class EventService:
    """Authorised access to the event lake and its ingestion records."""

    def __init__(
        self,
        engine: Engine,
        lake: EventLake,
        clock: Clock,
        *,
        max_upload_bytes: int = 20 * 1024 * 1024,
        sharing: SharingConsents | None = None,
    ) -> None:
        self.engine = engine
        self.lake = lake
        self.clock = clock
        self._sharing = sharing  # None: no data-sharing consents, partners see their own only
        self.ingestor = Ingestor(engine, lake, clock=clock, max_upload_bytes=max_upload_bytes)

    @property
    def max_upload_bytes(self) -> int:
        """The largest partner file accepted; interfaces read at most one byte more."""
        return self.ingestor.max_upload_bytes

    def ingest(
        self,
        actor: Principal,
        data: Path | bytes,
        *,
        fmt: str | None = None,
        source: str | None = None,
        filename: str | None = None,
        progress: ProgressFn | None = None,
    ) -> IngestReport:
        actor.require_scope("events:write")
        if actor.kind in _CUSTOMER_KINDS:
            raise PermissionDenied("customers cannot ingest partner files")
        own = partner_source(actor.id)
        if actor.has_scope("events:admin"):
            source = source or own
        elif source and source != own:
            raise PermissionDenied(
                f"a partner key may only ingest as source {own!r}", field="source"
            )
        return self.ingestor.ingest_file(
            data,
            fmt=fmt,
            source=source or own,
            filename=filename,
            actor_id=actor.id,
            progress=progress,
        )

    def list_events(
        self,
        actor: Principal,
        *,
        event_type: str | None = None,
        subject_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
    ) -> list[StoredEvent]:
        visible: PartnerView | None = None
        if actor.kind in _CUSTOMER_KINDS:
            own = actor.customer_id
            if own is None or (subject_id is not None and subject_id != own):
                raise PermissionDenied("a customer may only read their own events", field="subject")
            subject_id = own
        elif not actor.has_scope("events:read"):
            visible = self.partner_view(actor)
        return self.lake.events(
            event_type=event_type,
            subject_id=subject_id,
            since=since,
            until=until,
            limit=limit,
            visible=visible,
        )

    def payload_table(
        self,
        actor: Principal,
        event_type: str,
        fields: Sequence[str],
        *,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> pa.Table:
        """Every event of a type in a window, payload fields as columns, for operators' batch
        work (replays, training sets): all customers' data, so the operator read scope."""
        self._require_operator_read(actor)
        return self.lake.payload_table(event_type, fields, since=since, until=until)

    def partner_view(self, actor: Principal) -> PartnerView:
        """What a partner key may read (its own files' events and what customers share)."""
        actor.require_scope("events:read:partner")
        shared: Mapping[str, frozenset[str]] = {}
        if self._sharing is not None:
            shared = self._sharing.consenting(sharing_purpose(actor.id))
        return PartnerView(source=partner_source(actor.id), shared=shared)

    def ingestions(
        self, actor: Principal, *, limit: int = 50, rejected_only: bool = False
    ) -> list[IngestReport]:
        source = self._reports_source(actor)
        return self.ingestor.list(limit=limit, with_rejections_only=rejected_only, source=source)

    def ingestion(self, actor: Principal, ingestion_id: str) -> IngestReport:
        source = self._reports_source(actor)
        report = self.ingestor.get(ingestion_id)
        if source is not None and report.source != source:  # another partner's: not yours
            raise NotFound(f"no ingestion {ingestion_id}", field="ingestion_id")
        return report

    def ingestion_rejections(self, actor: Principal, ingestion_id: str) -> Iterator[Rejection]:
        """Every rejection of one ingestion (the full report in the lake), to whoever may read
        the ingestion itself."""
        return self.ingestor.rejections(self.ingestion(actor, ingestion_id))

    def _reports_source(self, actor: Principal) -> str | None:
        """None for operators (every report); a partner's own source; refused otherwise."""
        if actor.kind not in _CUSTOMER_KINDS and not actor.has_scope("events:read"):
            return self.partner_view(actor).source
        self._require_operator_read(actor)
        return None

    def query(
        self,
        actor: Principal,
        sql: str,
        *,
        as_of_version: int | None = None,
        as_of: datetime | None = None,
    ) -> list[dict[str, Any]]:
        """One read-only SELECT over the ``events`` view, for operators (all customers' data);
        over the lake as it was at a version or an instant when one is given."""
        self._require_operator_read(actor)
        lake = self.lake
        if as_of_version is not None or as_of is not None:
            lake = lake.as_of(version=as_of_version, at=as_of)
        return lake.query(sql)

    # -- the catalogue, data quality and the table's upkeep -----------------------------------
    def catalogue(self, actor: Principal) -> list[CatalogueEntry]:
        self._require_operator_read(actor)
        return catalogue(self.lake)

    def batches(self, actor: Principal, *, limit: int = 50) -> list[BatchRecord]:
        """Recent batches: passed, quarantined (with reasons), released or discarded."""
        self._require_operator_read(actor)
        return batch_log(self.lake, limit=max(1, min(limit, 500)))

    def quarantined_rows(
        self, actor: Principal, batch_id: str, *, limit: int = 100
    ) -> list[dict[str, Any]]:
        """A quarantined batch's rows as they arrived (payloads are customers' data)."""
        self._require_operator_read(actor)
        rows = self.lake.quarantine.rows(batch_id).drop_columns(["batch_id", "reasons"])
        return rows.slice(0, max(1, min(limit, 1000))).to_pylist()  # type: ignore[no-any-return]

    def release(self, actor: Principal, batch_id: str, *, note: str = "") -> BatchRecord:
        """Write a quarantined batch to the events table as it is, and record who decided."""
        actor.require_scope("events:admin")
        import pyarrow as pa
        import pyarrow.compute as pc

        batch = self.lake.quarantine.get(batch_id)
        if batch.status == "quarantined":
            rows = self.lake.quarantine.rows(batch_id)
            rows = rows.drop_columns(["batch_id", "quarantined_at", "reasons"])
            # The partition date is derived, as on any append: occurred_at's UTC date.
            rows = rows.append_column("date", pc.cast(rows["occurred_at"], pa.date32()))
            nulls = [
                f.name for f in table_schema() if not f.nullable and rows.column(f.name).null_count
            ]
            if nulls:
                raise Conflict(
                    f"batch {batch_id} has null {', '.join(nulls)}: it cannot join the lake;"
                    " discard it instead",
                    field="action",
                )
            self.lake.append_arrow(
                rows.select(table_schema().names).cast(table_schema()),
                batch=f"release-{batch_id}"[:80],
                check=False,
            )
        self.lake.quarantine.decide(batch_id, "release", actor.id, self.clock.now(), note)
        return self._record(batch_id)

    def discard(self, actor: Principal, batch_id: str, *, note: str) -> BatchRecord:
        """Mark a quarantined batch discarded (its rows stay in the quarantine for the record)."""
        actor.require_scope("events:admin")
        if not note.strip():
            raise ValidationError("say why the batch is discarded", field="note")
        self.lake.quarantine.decide(batch_id, "discard", actor.id, self.clock.now(), note)
        return self._record(batch_id)

    def _record(self, batch_id: str) -> BatchRecord:
        return BatchRecord.of_quarantined(self.lake.quarantine.get(batch_id))

    def history(self, actor: Principal, *, limit: int = 20) -> list[Commit]:
        self._require_operator_read(actor)
        return self.lake.history(limit=max(1, min(limit, 1000)))

    def optimize(self, actor: Principal) -> dict[str, Any]:
        actor.require_scope("events:admin")
        return self.lake.optimize()

    def vacuum(self, actor: Principal, *, retain_days: int = 7, dry_run: bool = False) -> list[str]:
        actor.require_scope("events:admin")
        return self.lake.vacuum(retain=timedelta(days=retain_days), dry_run=dry_run)

    def spend_features(
        self, actor: Principal, as_of: datetime, *, customer_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Per-customer card spend over 1/7/30 days before ``as_of`` (the Ibis pipeline)."""
        self._require_operator_read(actor)
        from finbridge.lake.features import spend_features_duckdb  # Ibis loads only when used

        rows: list[dict[str, Any]] = spend_features_duckdb(self.lake, as_of).to_pylist()
        return [r for r in rows if customer_id is None or r["customer_id"] == customer_id]

    def daily_volume(self, actor: Principal) -> list[DailyVolume]:
        """Movements and amounts per day and currency (``transaction.posted``, seeding excluded)."""
        self._require_operator_read(actor)
        return [
            DailyVolume(
                day=r["date"],  # a DATE partition column
                currency=r["currency"],
                movements=int(r["n"]),
                total=Decimal(r["total"]),
            )
            for r in self.lake.query(_DAILY_VOLUME_SQL)
        ]

    def record(self, actor: Principal, events: Sequence[Event]) -> int:
        """Put ``events`` (each payload validated by its registered schema) into the outbox in
        one transaction, as an engine's change would, for the relay to publish (the demo's
        simulated activity). ``events:admin`` only; returns how many."""
        actor.require_scope("events:admin")
        from finbridge.lake.outbox import emit_many
        from finbridge.store.engine import unit_of_work

        with unit_of_work(self.engine) as session:
            emit_many(session, events)
        return len(events)

    def pending(self, actor: Principal) -> int:
        actor.require_scope("events:read")
        return OutboxRelay(self.engine, self.lake, clock=self.clock).pending()

    def relay(
        self,
        actor: Principal,
        *,
        max_batches: int | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> RelayResult:
        """Drain the outbox now (the CLI and the demo; a server runs it on a timer)."""
        actor.require_scope("events:admin")
        relay = OutboxRelay(self.engine, self.lake, clock=self.clock)
        return relay.drain(max_batches=max_batches, progress=progress)

    @staticmethod
    def _require_operator_read(actor: Principal) -> None:
        if actor.kind in _CUSTOMER_KINDS:
            raise PermissionDenied("ingestion reports are for operators")
        actor.require_scope("events:read")

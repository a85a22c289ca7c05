"""The feature store: a registry of views, offline Parquet snapshots, an online store.

Materialising a view runs its expression over the lake's events (DuckDB), writes one Parquet
snapshot per view version (replaced atomically), records a manifest (rows, entities, event
range, when) and pushes each entity's latest row, as of the materialisation, to the online
store. Training sets are point-in-time joins of labels with those snapshots.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from finbridge.core.clock import Clock, SystemClock, ensure_aware
from finbridge.core.errors import Conflict, NotFound, ValidationError
from finbridge.lake.featurestore._definitions import (
    ENTITY_TIME,
    FeatureView,
    feature_frame,
    select_features,
)
from finbridge.lake.featurestore._online import MemoryOnlineStore, OnlineStore, Row
from finbridge.lake.featurestore._pit import LABEL_ROW, number_labels, point_in_time_join
from finbridge.lake.featurestore._quality import check_materialisation

DATA_FILE = "data.parquet"
MANIFEST = "manifest.json"

# What a materialised frame is checked with before it is kept: (frame, view, until, rows of the
# previous snapshot). A check raises to refuse the frame, and nothing is written.
FrameCheck = Callable[[pa.Table, FeatureView, datetime, int | None], None]


class FeatureRegistry:
    """Feature views by name and version; the latest version answers a bare name."""

    def __init__(self, views: Sequence[FeatureView] = ()) -> None:
        self._views: dict[tuple[str, int], FeatureView] = {}
        for view in views:
            self.register(view)

    def register(self, view: FeatureView) -> FeatureView:
        key = (view.name, view.version)
        if key in self._views and self._views[key] is not view:
            raise Conflict(f"feature view {view.ref} is already registered", field="name")
        self._views[key] = view
        return view

    def get(self, name: str, version: int | None = None) -> FeatureView:
        versions = sorted(v for (n, v) in self._views if n == name)
        if not versions:
            known = ", ".join(sorted({n for n, _ in self._views})) or "none"
            raise NotFound(f"no feature view {name!r} (known: {known})", field="view")
        if version is None:
            version = versions[-1]
        if version not in versions:
            raise NotFound(f"feature view {name} has no version {version}", field="version")
        return self._views[(name, version)]

    def views(self) -> list[FeatureView]:
        return [self._views[k] for k in sorted(self._views)]


@dataclass(frozen=True)
class Materialisation:
    """What one materialisation wrote (also the manifest beside the snapshot)."""

    view: str
    version: int
    owner: str
    rows: int
    entities: int
    first_event: datetime | None
    last_event: datetime | None
    until: datetime
    materialised_at: datetime
    online_rows: int
    seconds: float

    def to_json(self) -> str:
        data = asdict(self)
        for k, v in data.items():
            if isinstance(v, datetime):
                data[k] = v.isoformat()
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Materialisation:
        data = json.loads(text)
        for k in ("first_event", "last_event", "until", "materialised_at"):
            if data[k] is not None:
                data[k] = datetime.fromisoformat(data[k])
        return cls(**data)


@dataclass(frozen=True)
class ViewStatus:
    """A registered view and its last materialisation (None: never materialised)."""

    view: FeatureView
    last: Materialisation | None
    freshness: timedelta | None  # now minus the newest event in the snapshot


def parse_feature_refs(refs: Sequence[str]) -> list[tuple[str, str | None]]:
    """``view`` (all features) or ``view:feature`` -> (view, feature or None)."""
    if not refs:
        raise ValidationError("name at least one feature view", field="features")
    out: list[tuple[str, str | None]] = []
    for ref in refs:
        name, _, feature = ref.partition(":")
        if not name:
            raise ValidationError(f"{ref!r} is not 'view' or 'view:feature'", field="features")
        out.append((name, feature or None))
    return out


class FeatureStore:
    """Registry + offline snapshots under ``root`` + an online store."""

    def __init__(
        self,
        registry: FeatureRegistry,
        root: Path,
        *,
        online: OnlineStore | None = None,
        clock: Clock | None = None,
        check: FrameCheck | None = check_materialisation,
    ) -> None:
        self.registry = registry
        self.root = Path(root)
        self.online: OnlineStore = online or MemoryOnlineStore()
        self.clock: Clock = clock or SystemClock()
        self._check = check

    # -- offline -------------------------------------------------------------------------------
    def _dir(self, view: FeatureView) -> Path:
        return self.root / view.name / f"v{view.version}"

    def materialize(
        self,
        name: str,
        events: ir.Table,
        *,
        until: datetime | None = None,
        version: int | None = None,
    ) -> Materialisation:
        """Run view ``name`` over ``events`` (strictly before ``until``, default now), keep the
        snapshot and push each entity's latest row (within the TTL) online."""
        view = self.registry.get(name, version)
        started = time.perf_counter()
        until = ensure_aware(until).astimezone(UTC) if until else self.clock.now().astimezone(UTC)
        table = feature_frame(view, events, until=until).to_pyarrow()
        table = table.sort_by([(view.entity, "ascending"), (ENTITY_TIME, "ascending")])
        if self._check is not None:
            previous = self.last_materialisation(view)
            self._check(table, view, until, previous.rows if previous else None)
        folder = self._dir(view)
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        _atomic_parquet(table, folder / DATA_FILE)
        online_rows = self.online.write(view.ref, _latest_rows(view, table, until))
        times = table.column(ENTITY_TIME)
        done = Materialisation(
            view=view.name,
            version=view.version,
            owner=view.owner,
            rows=table.num_rows,
            entities=len(pc.unique(table.column(view.entity))),
            first_event=_utc(pc.min(times).as_py()),
            last_event=_utc(pc.max(times).as_py()),
            until=until,
            materialised_at=self.clock.now(),
            online_rows=online_rows,
            seconds=round(time.perf_counter() - started, 3),
        )
        _atomic_text(done.to_json(), folder / MANIFEST)
        return done

    def last_materialisation(self, view: FeatureView) -> Materialisation | None:
        manifest = self._dir(view) / MANIFEST
        return Materialisation.from_json(manifest.read_text()) if manifest.is_file() else None

    def snapshot(self, name: str, version: int | None = None) -> pa.Table:
        """The view's last materialised frame (NotFound naming the view if it has none)."""
        view = self.registry.get(name, version)
        path = self._dir(view) / DATA_FILE
        if not path.is_file():
            raise NotFound(
                f"feature view {view.ref} has not been materialised "
                f"(finbridge features materialize {view.name})",
                field="view",
            )
        return pq.read_table(path)

    def status(self) -> list[ViewStatus]:
        now = self.clock.now()
        out = []
        for view in self.registry.views():
            last = self.last_materialisation(view)
            fresh = now - last.last_event if last and last.last_event else None
            out.append(ViewStatus(view, last, fresh))
        return out

    # -- training sets --------------------------------------------------------------------------
    def training_set(
        self,
        labels: pa.Table | Any,
        features: Sequence[str],
        *,
        label_time: str = "label_time",
    ) -> pa.Table:
        """Labels joined point-in-time with the named features of the materialised views.

        ``labels``: an Arrow table (or pandas frame) with each view's entity column (e.g.
        ``customer_id``), an aware timestamp column ``label_time`` (the instant the label's
        prediction would have been made) and any label columns. ``features``: ``"view"`` (all
        of its features) or ``"view:feature"``. Each label row gets, per view, the latest values
        stamped strictly before its ``label_time`` and younger than the view's TTL (else null).
        Rows come back in the order given, with the label columns first. Example::

            labels = pa.table({"customer_id": [...], "label_time": [...], "is_fraud": [...]})
            ts = platform.features.training_set(labels, ["card_spend"])
        """
        if not isinstance(labels, pa.Table):
            labels = pa.Table.from_pandas(labels, preserve_index=False)
        if labels.num_rows == 0:
            raise ValidationError("the labels are empty", field="labels")
        wanted = self._resolve(features)
        con = ibis.duckdb.connect()
        numbered = labels.append_column(LABEL_ROW, pa.array(range(labels.num_rows), pa.int64()))
        expr: ir.Table = con.create_table("labels", numbered)
        expr = number_labels(expr, wanted[0][0].entity, label_time)
        for i, (view, names) in enumerate(wanted):
            if view.entity not in labels.column_names:
                raise ValidationError(
                    f"the labels have no {view.entity!r} column "
                    f"(the entity of feature view {view.name})",
                    field=view.entity,
                )
            frame = con.create_table(f"frame_{i}", self.snapshot(view.name, view.version))
            expr = point_in_time_join(
                number_labels(expr, view.entity, label_time),
                frame,
                entity=view.entity,
                label_time=label_time,
                features=names,
                ttl=view.ttl,
            )
        out = expr.order_by(LABEL_ROW).to_pyarrow()
        return out.drop_columns([LABEL_ROW])

    def _resolve(self, refs: Sequence[str]) -> list[tuple[FeatureView, list[str]]]:
        grouped: dict[str, tuple[FeatureView, list[str] | None]] = {}
        for name, feature in parse_feature_refs(refs):
            view = self.registry.get(name)
            _, got = grouped.get(name, (view, []))
            if feature is None or got is None:
                grouped[name] = (view, None)
            else:
                grouped[name] = (view, [*got, feature])
        resolved = [(v, select_features(v, names)) for v, names in grouped.values()]
        seen: set[str] = set()
        for _, names in resolved:
            if seen & set(names):
                raise ValidationError(f"feature names clash: {sorted(seen & set(names))}")
            seen |= set(names)
        return resolved

    # -- online ---------------------------------------------------------------------------------
    def load_online(self, name: str) -> int:
        """Push the last snapshot's latest rows online (as of that materialisation): how a new
        process fills its in-process store without recomputing."""
        view = self.registry.get(name)
        last = self.last_materialisation(view)
        table = self.snapshot(view.name, view.version)
        assert last is not None  # a snapshot always has its manifest
        return self.online.write(view.ref, _latest_rows(view, table, last.until))

    def online_features(
        self,
        name: str,
        entity_ids: Sequence[str | int],
        *,
        features: Sequence[str] | None = None,
        strict: bool = True,
    ) -> list[Row | None]:
        """The latest values per entity as of the last materialisation.

        ``strict``: an entity with no values (unknown, or its values older than the TTL) is a
        NotFound naming it; otherwise its row is None.
        """
        view = self.registry.get(name)
        names = select_features(view, features)
        keys = [str(e) for e in entity_ids]
        rows = self.online.read(view.ref, keys)
        missing = [k for k, r in zip(keys, rows, strict=True) if r is None]
        if strict and missing:
            raise NotFound(
                f"no features of {view.name} for {view.entity} {missing[0]!r} "
                f"(unknown, or last seen more than {view.ttl} before the last materialisation)",
                field=view.entity,
            )
        return [None if r is None else {n: r.get(n) for n in names} for r in rows]


def _latest_rows(view: FeatureView, table: pa.Table, as_of: datetime) -> Iterator[tuple[str, Row]]:
    """Each entity's last row strictly before ``as_of`` and younger than the TTL (the same rule
    as the point-in-time join, so online and offline agree)."""
    if table.num_rows == 0:
        return
    entities = table.column(view.entity)
    last = pc.not_equal(entities.slice(0, table.num_rows - 1), entities.slice(1))
    keep = pa.concat_arrays([last.combine_chunks(), pa.array([True])])
    tail = table.filter(keep)
    tail = tail.filter(pc.greater(tail.column(ENTITY_TIME), pa.scalar(as_of - view.ttl)))
    names = view.feature_names
    for row in tail.to_pylist():
        yield str(row[view.entity]), {n: row[n] for n in names}


def _utc(value: Any) -> datetime | None:
    if value is None:
        return None
    return ensure_aware(value).astimezone(UTC)


def _atomic_parquet(table: pa.Table, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    pq.write_table(table, tmp, compression="zstd")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def _atomic_text(text: str, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)

"""Online stores: the latest feature row per entity, for serving.

In-process by default; Redis (one hash per view version and entity) when configured. Values go
in as JSON with decimals and instants as strings, so what comes out is what went in: the
parity tests compare online reads with the offline training set value for value.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

Row = dict[str, Any]


class OnlineStore(Protocol):
    def write(self, view_ref: str, rows: Iterable[tuple[str, Row]]) -> int: ...

    def read(self, view_ref: str, entity_ids: Sequence[str]) -> list[Row | None]: ...

    def clear(self, view_ref: str) -> None: ...


def encode(row: Mapping[str, Any]) -> str:
    return json.dumps({k: _plain(v) for k, v in row.items()}, sort_keys=True)


def decode(text: str) -> Row:
    return {k: _typed(v) for k, v in json.loads(text).items()}


def _plain(v: Any) -> Any:
    if isinstance(v, Decimal):
        return {"$decimal": str(v)}
    if isinstance(v, datetime):
        return {"$time": v.isoformat()}
    if hasattr(v, "item"):  # NumPy scalars from Arrow
        return v.item()
    return v


def _typed(v: Any) -> Any:
    if isinstance(v, dict) and "$decimal" in v:
        return Decimal(v["$decimal"])
    if isinstance(v, dict) and "$time" in v:
        return datetime.fromisoformat(v["$time"])
    return v


class MemoryOnlineStore:
    """A dict per view version: the default, and what tests and the demo use."""

    def __init__(self) -> None:
        self._views: dict[str, dict[str, str]] = {}

    def write(self, view_ref: str, rows: Iterable[tuple[str, Row]]) -> int:
        fresh = {entity: encode(row) for entity, row in rows}
        self._views[view_ref] = fresh  # replaced whole: a materialisation is a snapshot
        return len(fresh)

    def read(self, view_ref: str, entity_ids: Sequence[str]) -> list[Row | None]:
        view = self._views.get(view_ref, {})
        return [decode(view[e]) if e in view else None for e in entity_ids]

    def clear(self, view_ref: str) -> None:
        self._views.pop(view_ref, None)

    def holds(self, view_ref: str) -> bool:
        return view_ref in self._views


class RedisOnlineStore:
    """One Redis hash per view version (field: entity id, value: the row as JSON).

    A materialisation writes a new hash and renames it over the old one, so readers never see a
    half-written snapshot.
    """

    def __init__(self, url: str, *, prefix: str = "finbridge:features") -> None:
        import redis

        self._redis = redis.Redis.from_url(url)
        self._prefix = prefix

    def _key(self, view_ref: str) -> str:
        return f"{self._prefix}:{view_ref}"

    def write(self, view_ref: str, rows: Iterable[tuple[str, Row]]) -> int:
        key = self._key(view_ref)
        staging = f"{key}:staging"
        self._redis.delete(staging)
        count = 0
        batch: dict[str | bytes, bytes | float | int | str] = {}
        for entity, row in rows:
            batch[entity] = encode(row)
            if len(batch) >= 5_000:
                self._redis.hset(staging, mapping=batch)
                count += len(batch)
                batch = {}
        if batch:
            self._redis.hset(staging, mapping=batch)
            count += len(batch)
        if count:
            self._redis.rename(staging, key)
        else:
            self._redis.delete(key)
        return count

    def read(self, view_ref: str, entity_ids: Sequence[str]) -> list[Row | None]:
        if not entity_ids:
            return []
        values = self._redis.hmget(self._key(view_ref), list(entity_ids))
        return [decode(v.decode() if isinstance(v, bytes) else v) if v else None for v in values]

    def clear(self, view_ref: str) -> None:
        self._redis.delete(self._key(view_ref))

"""A credit training table through the feature store: its attributes recorded as of an instant,
its labels as of the instant each score was made, joined point in time.

``finbridge credit train --from-features`` and the demo's scorecard learn this way: the table's
attributes are materialised into a ``credit_profile`` view of the model's own (names in the
store are snake_case; the model keeps the table's names), stamped at ``recorded_at``; the
labels carry ``scored_at``; :meth:`CreditService.train_from_features` then trains on what the
store's join gives each label: the attributes recorded strictly before its score, within the
view's TTL, never a later recording.

``recorded_at`` and ``scored_at`` are each a column of the table (one instant per row) or one
instant for every row (ISO 8601; a date means its midnight UTC).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from finbridge.core.errors import ValidationError

if TYPE_CHECKING:
    import pandas as pd

    from finbridge.lake.featurestore import FeatureStore, FeatureView, Materialisation

ENTITY = "customer_id"
LABEL_TIME = "label_time"


@dataclass(frozen=True, slots=True)
class Recorded:
    """What was put in the store: the view, its snapshot, the labels to join, the names."""

    view: FeatureView
    materialised: Materialisation
    labels: pd.DataFrame
    names: dict[str, str]  # store name -> the table's column


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def view_name(model: str) -> str:
    """The model's own profile view: ``credit_profile_<model in snake_case>``."""
    slug = _slug(model)
    return f"credit_profile_{slug}" if slug else "credit_profile"


def _snake(column: str) -> str:
    name = _slug(str(column))
    return name if re.fullmatch(r"[a-z][a-z0-9_]*", name) else f"f_{name}"


def instants(frame: pd.DataFrame, spec: str, field: str) -> pd.Series:
    """``spec`` as one aware UTC instant per row: the column of that name, else an instant."""
    import pandas as pd

    if spec in frame.columns:
        try:
            values = pd.to_datetime(frame[spec], utc=True)
        except (ValueError, TypeError) as exc:
            raise ValidationError(f"column {spec!r} is not instants: {exc}", field=field) from None
        if values.isna().any():
            raise ValidationError(f"column {spec!r} has rows without an instant", field=field)
        return values
    try:
        when = datetime.fromisoformat(spec)
    except ValueError:
        raise ValidationError(
            f"{field} is neither a column of the table nor an ISO 8601 instant: {spec!r}",
            field=field,
        ) from None
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    return pd.Series([when] * len(frame), index=frame.index, dtype="datetime64[ns, UTC]")


def record(
    store: FeatureStore,
    frame: pd.DataFrame,
    *,
    model: str,
    entity: str,
    target: str,
    recorded_at: str,
    scored_at: str,
    drop: tuple[str, ...] = (),
) -> Recorded:
    """Materialise ``frame``'s attributes into the model's profile view as recorded at
    ``recorded_at``; the labels (entity, ``label_time`` = ``scored_at``, ``target``) to join."""
    import ibis
    import pandas as pd
    import pyarrow as pa

    from finbridge.lake.featurestore import credit_profile_view

    for column, field in ((entity, "id_column"), (target, "target")):
        if column not in frame.columns:
            raise ValidationError(f"the table has no {column!r} column", field=field)
    if frame[entity].isna().any():
        raise ValidationError(f"the id column {entity!r} has rows without an id", field="id_column")
    recorded, scored = (
        instants(frame, recorded_at, "recorded_at"),
        instants(frame, scored_at, "scored_at"),
    )
    skip = {entity, target, recorded_at, scored_at, *drop}
    columns = [c for c in frame.columns if c not in skip]
    text = [c for c in columns if not pd.api.types.is_numeric_dtype(frame[c])]
    if text:
        raise ValidationError(
            f"the feature store keeps numbers: encode or drop {', '.join(map(str, text))}",
            field=str(text[0]),
        )
    names = {_snake(c): str(c) for c in columns}
    if len(names) != len(columns):
        raise ValidationError("two columns have the same snake_case name", field="columns")
    ids = frame[entity].astype(str)
    rows = pd.DataFrame({n: frame[c].astype(float) for n, c in names.items()})
    rows.insert(0, "occurred_at", recorded)
    rows.insert(0, ENTITY, ids)
    view = _registered(store, credit_profile_view(list(names), name=view_name(model)))
    table = ibis.duckdb.connect().create_table(
        "recorded", pa.Table.from_pandas(rows, preserve_index=False)
    )
    made = store.materialize(view.name, table, version=view.version)
    labels = pd.DataFrame({ENTITY: ids, LABEL_TIME: scored, target: frame[target]})
    return Recorded(view, made, labels.reset_index(drop=True), names)


def _registered(store: FeatureStore, view: FeatureView) -> FeatureView:
    """``view``, or the registered one with the same name and features; a changed feature list
    becomes the next version."""
    from finbridge.core.errors import NotFound

    try:
        latest = store.registry.get(view.name)
    except NotFound:
        return store.registry.register(view)
    if latest.feature_names == view.feature_names:
        return latest
    return store.registry.register(replace(view, version=latest.version + 1))

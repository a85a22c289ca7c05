"""One function to check a frame (a lake batch, a feature materialisation) with pandera.

The checks are declared, then run by pandera in one lazy pass so that every failure is reported
at once (not just the first): column presence and type (schema), nulls, inclusive ranges,
uniqueness of a key, freshness of a time column and volume against recent comparable counts.
The result is a :class:`QualityReport`; deciding what a failure means (quarantine a batch,
refuse a materialisation) is the caller's business.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from finbridge.core.errors import ValidationError

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

# pandas and pandera load on the first check, not when the lake package is imported.

MAX_REASONS = 20  # a report names at most this many failures in full (the rest are counted)
MAX_EXAMPLES = 3  # failing values quoted per failure


@dataclass(frozen=True, slots=True)
class Failure:
    """One failed check: which (``schema``, ``nulls``, ``range``, ``unique``, ``freshness``,
    ``volume``), on which column (None for the whole frame), how many rows, and why."""

    check: str
    column: str | None
    rows: int
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "column": self.column,
            "rows": self.rows,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class QualityReport:
    name: str
    rows: int
    failures: tuple[Failure, ...]

    @property
    def passed(self) -> bool:
        return not self.failures

    def reasons(self) -> list[str]:
        return [f.reason for f in self.failures]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "rows": self.rows,
            "passed": self.passed,
            "failures": [f.to_dict() for f in self.failures],
        }

    def raise_if_failed(self) -> None:
        """Raise :class:`QualityError` naming every failure (for callers that refuse outright)."""
        if self.failures:
            raise QualityError(self)


class QualityError(ValidationError):
    """A frame failed its quality checks; ``report`` holds every failure."""

    def __init__(self, report: QualityReport) -> None:
        first = report.failures[0]
        super().__init__(
            f"{report.name}: {len(report.failures)} quality check(s) failed: "
            + "; ".join(report.reasons()[:5]),
            field=first.column or first.check,
            failures=[f.to_dict() for f in report.failures],
        )
        self.report = report


def check_frame(
    frame: pd.DataFrame | pa.Table,
    *,
    name: str,
    dtypes: Mapping[str, str] | None = None,
    required: Sequence[str] = (),
    unique: Sequence[str] = (),
    ranges: Mapping[str, tuple[Any, Any]] | None = None,
    time_column: str | None = None,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    fresh_after: datetime | None = None,
    recent_rows: Sequence[int] = (),
    volume_factor: float = 10.0,
    volume_floor: int = 0,
) -> QualityReport:
    """Check ``frame`` and return a report of every failure (never raises on bad data).

    - ``dtypes``: column -> pandas dtype name (``"str"``, ``"int32"``,
      ``"datetime64[us, UTC]"``...): the column must exist with that type (schema);
    - ``required``: columns that must exist and hold no null;
    - ``unique``: columns that together identify a row (no two rows share them);
    - ``ranges``: column -> (low, high), inclusive, either end None for open;
    - ``time_column`` with ``not_before``/``not_after``: every instant inside the bounds;
      with ``fresh_after``: the newest instant is at or after it (freshness);
    - ``recent_rows``: row counts of comparable recent frames (e.g. the past week's batches);
      the frame fails on volume when it has more than ``volume_factor`` times their median, or
      fewer than their median over ``volume_factor``, and more rows than ``volume_floor``
      (small frames are never volume anomalies).

    h19f's feature store calls this on every materialisation; the lake calls it through
    :func:`~finbridge.lake.quality.check_event_batch` on every appended batch.
    """
    import pandas as pd
    import pandera.pandas as pdr
    from pandera.errors import SchemaErrors

    df = frame if isinstance(frame, pd.DataFrame) else frame.to_pandas()
    dtypes = dict(dtypes or {})
    ranges = dict(ranges or {})
    bounds: dict[str, list[Any]] = {}
    for column, (low, high) in ranges.items():
        if low is not None:
            bounds.setdefault(column, []).append(pdr.Check.ge(low, name=f"at least {low}"))
        if high is not None:
            bounds.setdefault(column, []).append(pdr.Check.le(high, name=f"at most {high}"))
    if time_column is not None:
        if not_before is not None:
            ts = pd.Timestamp(not_before)
            bounds.setdefault(time_column, []).append(
                pdr.Check.ge(ts, name=f"not before {not_before.isoformat()}")
            )
        if not_after is not None:
            ts = pd.Timestamp(not_after)
            bounds.setdefault(time_column, []).append(
                pdr.Check.le(ts, name=f"not after {not_after.isoformat()}")
            )
    columns = {}
    for column in dict.fromkeys([*dtypes, *required, *ranges, *bounds]):
        columns[column] = pdr.Column(
            dtypes.get(column),
            checks=bounds.get(column, []),
            nullable=column not in required,
            required=column in dtypes or column in required,
        )
    frame_checks = []
    if fresh_after is not None and time_column is not None:
        limit = pd.Timestamp(fresh_after)
        frame_checks.append(
            pdr.Check(
                lambda d: bool(len(d) == 0 or d[time_column].max() >= limit),
                name=f"freshness: newest {time_column} at or after {fresh_after.isoformat()}",
            )
        )
    schema = pdr.DataFrameSchema(
        columns,
        checks=frame_checks,
        unique=list(unique) or None,
        report_duplicates="all",
        coerce=False,
    )
    failures: list[Failure] = []
    try:
        schema.validate(df, lazy=True)
    except SchemaErrors as exc:
        failures.extend(_failures(exc.failure_cases, unique))
    failures.extend(_volume(len(df), recent_rows, volume_factor, volume_floor))
    if len(failures) > MAX_REASONS:
        rest = failures[MAX_REASONS:]
        failures = [
            *failures[:MAX_REASONS],
            Failure("more", None, sum(f.rows for f in rest), f"{len(rest)} more failures"),
        ]
    return QualityReport(name=name, rows=len(df), failures=tuple(failures))


def _failures(cases: pd.DataFrame, unique: Sequence[str]) -> list[Failure]:
    """Group pandera's failure cases (one row per failing value) into one failure per check."""
    out: list[Failure] = []
    for (context, column, check), group in cases.groupby(
        ["schema_context", "column", "check"], dropna=False, sort=False
    ):
        column_name = None if column is None or column != column else str(column)
        check_text = str(check)
        examples = ", ".join(repr(v) for v in group["failure_case"].head(MAX_EXAMPLES).tolist())
        rows = int(group["index"].notna().sum()) or len(group)
        if check_text in ("not_nullable", "column_in_dataframe", "column_in_schema"):
            kind = "nulls" if check_text == "not_nullable" else "schema"
            reason = (
                f"{column_name}: {rows} null value(s)"
                if kind == "nulls"
                else f"missing column {examples}"
            )
            column_name = column_name if kind == "nulls" else str(group["failure_case"].iloc[0])
        elif check_text.startswith("dtype("):
            kind, reason = "schema", f"{column_name}: type {examples}, expected {check_text[6:-1]}"
        elif check_text in ("field_uniqueness", "multiple_fields_uniqueness") or (
            context == "DataFrameSchema" and "unique" in check_text
        ):
            kind = "unique"
            column_name = column_name or ",".join(unique)
            reason = f"{column_name}: {rows} row(s) share a value, e.g. {examples}"
        elif check_text.startswith("freshness"):
            kind, reason = "freshness", check_text + " failed"
            column_name, rows = None, 0
        else:
            kind = "range"
            reason = f"{column_name}: {rows} value(s) outside '{check_text}', e.g. {examples}"
        out.append(Failure(kind, column_name, rows, reason))
    return out


def _volume(rows: int, recent: Sequence[int], factor: float, floor: int) -> list[Failure]:
    if not recent or rows <= floor:
        return []
    typical = statistics.median(recent)
    if rows > factor * typical:
        return [
            Failure(
                "volume",
                None,
                rows,
                f"volume: {rows} rows, over {factor:g}x the recent median of {typical:g}",
            )
        ]
    if rows * factor < typical:
        return [
            Failure(
                "volume",
                None,
                rows,
                f"volume: {rows} rows, under 1/{factor:g} of the recent median of {typical:g}",
            )
        ]
    return []

"""A bank's own transaction file read and mapped onto the transaction schema
(:mod:`finbridge.risk.mapping` documents it) in the layout the offline risk paths read."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from finbridge.core.errors import ValidationError
from finbridge.risk.mapping import NO_CUSTOMER, ColumnMapping


def read_transactions(path: Path) -> pl.DataFrame:
    """A transaction file (Parquet or CSV) as a frame, or one clear error."""
    if not path.is_file():
        raise ValidationError(f"no file at {path}", field="data")
    if path.stat().st_size == 0:
        raise ValidationError(f"{path.name} is empty", field="data")
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            frame = pl.read_parquet(path)
        elif suffix in (".csv", ".txt"):
            frame = pl.read_csv(path, infer_schema_length=10_000, try_parse_dates=True)
        else:
            raise ValidationError(
                f"{path.name}: unknown file type {suffix!r}; use .parquet or .csv", field="data"
            )
    except (pl.exceptions.PolarsError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValidationError(f"cannot read {path.name}: {first}", field="data") from None
    if frame.is_empty():
        raise ValidationError(f"{path.name} has no rows", field="data")
    return frame


def _column(frame: pl.DataFrame, name: str, field: str) -> pl.Series:
    if name not in frame.columns:
        raise ValidationError(
            f"column {name!r} is not in the file (columns: {frame.columns[:12]}); "
            f"map the {field} with --{field.replace('_', '-')} COLUMN"
            + (" (or --customer none: no card column)" if field == "customer" else ""),
            field=field,
        )
    return frame[name]


def _times(series: pl.Series, mapping: ColumnMapping) -> pl.Series:
    unit = mapping.time_unit
    if unit == "auto":
        unit = "seconds" if series.dtype.is_numeric() else "datetime"
    if unit == "datetime":
        if series.dtype == pl.Date:
            return series.cast(pl.Datetime("us"))
        if isinstance(series.dtype, pl.Datetime):
            return series.dt.replace_time_zone(None).cast(pl.Datetime("us"))
        try:
            parsed = series.cast(pl.String).str.to_datetime(strict=False, time_unit="us")
        except pl.exceptions.PolarsError:  # no date format fits any value
            parsed = pl.Series([None] * len(series), dtype=pl.Datetime("us"))
    else:
        if not series.dtype.is_numeric():
            raise ValidationError(
                f"column {mapping.time!r} holds {series.dtype}, not {unit}", field="time"
            )
        scale = 1_000_000 if unit == "seconds" else 1_000
        micros = (series.cast(pl.Float64) * scale).round(0).cast(pl.Int64)
        origin = pl.lit(mapping.time_origin).cast(pl.Datetime("us"))
        parsed = pl.select(origin + pl.duration(microseconds=pl.lit(micros))).to_series()
    bad = parsed.is_null().sum()
    if bad:
        first = series.filter(parsed.is_null()).head(1).to_list()
        raise ValidationError(
            f"{bad} values of column {mapping.time!r} are not times (first: {first[0]!r})",
            field="time",
        )
    return parsed


def _numbers(series: pl.Series, name: str, field: str) -> pl.Series:
    values = series.cast(pl.Float64, strict=False)
    bad = values.is_null() & series.is_not_null()
    if bad.any() or series.is_null().any():
        first = series.filter(bad | series.is_null()).head(1).to_list()
        raise ValidationError(
            f"column {name!r} must hold numbers without gaps (first bad: {first[0]!r})",
            field=field,
        )
    return values


def _labels(series: pl.Series, name: str) -> pl.Series:
    if series.dtype == pl.Boolean:
        values = series.cast(pl.Int8)
    else:
        text = series.cast(pl.String).str.strip_chars().str.to_lowercase()
        values = text.replace_strict(
            {"1": 1, "0": 0, "1.0": 1, "0.0": 0, "true": 1, "false": 0},
            default=None,
            return_dtype=pl.Int8,
        )
    if values.is_null().any():
        first = series.filter(values.is_null()).head(1).to_list()
        raise ValidationError(
            f"column {name!r} must hold 0/1 (first bad: {first[0]!r})", field="label"
        )
    return values


def _all_present(frame: pl.DataFrame, mapping: ColumnMapping, need_label: bool) -> None:
    """Every mapped column the file lacks, in one message (one rerun, not one per column)."""
    wanted = {"time": mapping.time, "amount": mapping.amount}
    if mapping.customer != NO_CUSTOMER:
        wanted["customer"] = mapping.customer
    optional = ["terminal", "transaction_id"] + ([] if need_label else ["label"])
    for field in optional:
        name = mapping.column(field, frame.columns)
        if name:
            wanted[field] = name
    if need_label and mapping.label:
        wanted["label"] = mapping.label
    missing = {f: c for f, c in wanted.items() if c not in frame.columns}
    if len(missing) > 1:
        flags = ", ".join(f"--{f.replace('_', '-')} (now {c!r})" for f, c in missing.items())
        hint = " (or --customer none: no card column)" if "customer" in missing else ""
        raise ValidationError(
            f"{len(missing)} mapped columns are not in the file: map {flags}{hint}; "
            f"columns: {frame.columns[:12]}",
            field=next(iter(missing)),
        )


def to_handbook(
    frame: pl.DataFrame, mapping: ColumnMapping, *, need_label: bool = True
) -> pl.DataFrame:
    """The file in the layout the offline risk paths read (the fraud handbook's columns)."""
    _all_present(frame, mapping, need_label)
    n = frame.height
    times = _times(_column(frame, mapping.time, "time"), mapping)
    amounts = _numbers(_column(frame, mapping.amount, "amount"), mapping.amount, "amount")
    if (amounts < 0).any():
        raise ValidationError(f"column {mapping.amount!r} has negative values",
                              field="amount")  # fmt: skip
    id_column = mapping.column("transaction_id", frame.columns)
    if id_column:
        ids = _column(frame, id_column, "transaction_id")
        if ids.n_unique() != n:
            raise ValidationError(
                f"column {id_column!r} (transaction_id) repeats values",
                field="transaction_id",
            )
        ids = ids.cast(pl.String)
    else:
        ids = pl.Series(range(n)).cast(pl.String)
    if mapping.customer == NO_CUSTOMER:
        customers = ids
    else:
        customers = _column(frame, mapping.customer, "customer").cast(pl.String)
    terminal = mapping.column("terminal", frame.columns)
    terminals = (
        _column(frame, terminal, "terminal").cast(pl.String).fill_null("unknown")
        if terminal
        else pl.Series(["all"] * n)
    )
    label = mapping.column("label", frame.columns) if not need_label else mapping.label
    if label:
        labels = _labels(_column(frame, label, "label"), label)
    elif need_label:
        raise ValidationError("name the fraud label column with --label", field="label")
    else:
        labels = pl.Series([0] * n, dtype=pl.Int8)
    out = pl.DataFrame(
        {
            "SOURCE_ID": ids,
            "TX_DATETIME": times,
            "CUSTOMER_ID": customers,
            "TERMINAL_ID": terminals,
            "TX_AMOUNT": amounts,
            "TX_FRAUD": labels,
        }
    ).sort("TX_DATETIME", "SOURCE_ID")
    # Seconds since the Unix epoch: the engine's clock is then the real date and time, so
    # weekend and night features mean what they say.
    secs = pl.col("TX_DATETIME").dt.epoch("s")
    return out.with_row_index("TRANSACTION_ID").with_columns(
        pl.col("TRANSACTION_ID").cast(pl.Int64),
        secs.cast(pl.Int64).alias("TX_TIME_SECONDS"),
        (secs // 86_400).cast(pl.Int64).alias("TX_TIME_DAYS"),
    )

"""Read a bank's own table (Parquet, CSV in any encoding, JSON Lines) with one clear error.

Every way a file can be unreadable (absent, empty, an unknown suffix, bytes in no encoding we
can name, a broken JSON line, a damaged Parquet footer) becomes a ``ValidationError`` naming the
file, so the CLI prints one line instead of a parser's traceback.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from finbridge.core.errors import ValidationError
from finbridge.core.textfiles import read_text_file

FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".tsv": "csv",
           ".txt": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}  # fmt: skip


@dataclass(frozen=True)
class LoadedTable:
    """The frame and how it was read (stated in the model's report)."""

    frame: pd.DataFrame
    path: str
    format: str
    encoding: str | None

    def describe(self) -> str:
        enc = f", encoding {self.encoding}" if self.encoding else ""
        return f"{self.path} ({self.format}{enc}, {len(self.frame):,} rows)"


def read_table(path: Path | str, *, encoding: str | None = None) -> LoadedTable:
    """Read ``path`` by its suffix; CSV/JSON Lines text in ``encoding`` or the detected one."""
    p = Path(path)
    if not p.is_file():
        raise ValidationError(f"no file at {p}", field="data")
    kind = FORMATS.get(p.suffix.lower())
    if kind is None:
        raise ValidationError(
            f"{p.name}: unknown file type {p.suffix!r}; use .parquet, .csv or .jsonl", field="data"
        )
    if p.stat().st_size == 0:
        raise ValidationError(f"{p.name} is empty", field="data")
    used: str | None = None
    try:
        if kind == "parquet":
            frame = pd.read_parquet(p)
        else:
            text, used = read_text_file(p, encoding)
            if not text.strip():
                raise ValidationError(f"{p.name} has no data (only blank text)", field="data")
            if kind == "csv":
                sep = "\t" if p.suffix.lower() == ".tsv" else None
                frame = pd.read_csv(io.StringIO(text), sep=sep, engine="python")
            else:
                frame = _read_jsonl(text, p.name)
    except ValidationError:
        raise
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValidationError(f"cannot read {p.name} as {kind}: {first}", field="data") from None
    if frame.empty:
        raise ValidationError(f"{p.name} has a header but no rows", field="data")
    frame.columns = [str(c).strip() for c in frame.columns]
    dupes = sorted({c for c in frame.columns if list(frame.columns).count(c) > 1})
    if dupes:
        raise ValidationError(f"{p.name} repeats column names: {dupes}", field="data")
    return LoadedTable(frame, str(p), kind, used)


def _read_jsonl(text: str, name: str) -> pd.DataFrame:
    import json

    rows = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValidationError(f"{name} line {n} is not JSON: {exc.msg}", field="data") from None
        if not isinstance(row, dict):
            raise ValidationError(f"{name} line {n} is not a JSON object", field="data")
        rows.append(row)
    return pd.DataFrame(rows)

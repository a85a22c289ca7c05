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

FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".tsv": "csv",
           ".txt": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}  # fmt: skip
# Enough bytes for charset-normalizer to be confident without reading a large file twice.
DETECT_BYTES = 1 << 20
TIE_BREAK = "cp1252"


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


def detect_encoding(raw: bytes) -> str:
    """The encoding charset-normalizer finds most likely for ``raw`` (UTF-8 when it decodes)."""
    try:
        raw.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    matches = list(from_bytes(raw[:DETECT_BYTES]))
    if not matches:
        raise ValidationError(
            "cannot tell the file's text encoding; pass --encoding (e.g. cp1252, latin-1)",
            field="encoding",
        )
    best = matches[0]
    # Single-byte code pages often tie exactly (same chaos, same coherence) on short Western
    # text; statistics cannot choose, so the tie goes to Windows-1252, the commonest export
    # encoding. The reader states the encoding it used and --encoding overrides it.
    tied = [m for m in matches if (m.chaos, m.coherence) == (best.chaos, best.coherence)]
    for m in tied:
        if TIE_BREAK in m.could_be_from_charset:
            return TIE_BREAK
    return str(best.encoding)


def _text(path: Path, encoding: str | None) -> tuple[str, str]:
    raw = path.read_bytes()
    if raw.startswith(b"\xef\xbb\xbf"):
        raw, encoding = raw[3:], encoding or "utf-8"
    enc = encoding or detect_encoding(raw)
    try:
        return raw.decode(enc), enc
    except LookupError:
        raise ValidationError(f"unknown encoding {enc!r}", field="encoding") from None
    except UnicodeDecodeError as exc:
        raise ValidationError(
            f"{path.name} is not valid {enc} (byte {exc.start}); pass the right --encoding",
            field="encoding",
        ) from None


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
            text, used = _text(p, encoding)
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

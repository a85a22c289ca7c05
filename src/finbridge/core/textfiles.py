"""Text files from outside (a bank's exports) decoded in their own encoding, or one clear error.

Exports from spreadsheets and core-banking systems are often Windows code pages, not UTF-8;
every engine that reads such a file (credit's training data, quant's price files) decodes it
here, so they agree on how an encoding is found and on the message when it cannot be.
"""

from __future__ import annotations

from pathlib import Path

from finbridge.core.errors import ValidationError

# Enough bytes for charset-normalizer to be confident without reading a large file twice.
DETECT_BYTES = 1 << 20
TIE_BREAK = "cp1252"
_BOM = b"\xef\xbb\xbf"


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


def read_text_file(path: Path, encoding: str | None = None) -> tuple[str, str]:
    """``path`` decoded in ``encoding`` (or the detected one); returns the text and the
    encoding used. A UTF-8 byte-order mark is dropped."""
    raw = path.read_bytes()
    if raw.startswith(_BOM):
        raw, encoding = raw[len(_BOM) :], encoding or "utf-8"
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

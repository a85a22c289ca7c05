"""The one rule for untrusted input every interface applies: text, integers, JSON nesting.

* Text: no NUL, no other C0/C1 control character except tab, line feed and carriage return, and
  no lone UTF-16 surrogate. PostgreSQL refuses NUL and any string that is not valid UTF-8 (a
  500 if it reaches the driver) while SQLite stores them: one rule, applied before either
  database sees the value, keeps the two engines alike and names the field.
* Integers: within a signed 64-bit integer (what both databases store); beyond it the drivers
  raise instead of refusing.
* JSON: at most :data:`MAX_JSON_DEPTH` levels of nesting; deeper documents make the standard
  parser (and any walk over the result) recurse until Python gives up.

Cheap by design: :func:`may_be_bad_json` scans raw bytes in C, so the walk over a parsed
document only runs when a suspicious escape, byte or long number is present.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Final

from finbridge.core.errors import ValidationError

MAX_JSON_DEPTH: Final = 32
INT64_MAX: Final = 2**63 - 1
INT64_MIN: Final = -(2**63)

# Control characters (C0 but tab/LF/CR, DEL, C1) and lone surrogates.
_BAD_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# In raw JSON: a \u escape of one of those, a raw DEL or C1 character (UTF-8 \xc2\x80-\x9f),
# or a run of 19+ digits (possibly beyond int64). Raw C0 bytes are invalid inside JSON strings.
_SUSPICIOUS = re.compile(
    rb"\\u(?:00[01][0-9a-f]|007f|008[0-9a-f]|009[0-9a-f]|d[89a-f][0-9a-f]{2})"
    rb"|\x7f|\xc2[\x80-\x9f]|[0-9]{19,}",
    re.IGNORECASE,
)


def bad_character(value: str) -> str | None:
    """The first forbidden character of ``value`` as ``U+XXXX``, or None."""
    found = _BAD_TEXT.search(value)
    return None if found is None else f"U+{ord(found.group()):04X}"


def check_text(value: str, field: str) -> str:
    """``value`` if it is acceptable text, else a ValidationError naming ``field``."""
    bad = bad_character(value)
    if bad is not None:
        raise ValidationError(f"contains a control character ({bad})", field=field)
    return value


def check_integer_text(value: str, field: str) -> None:
    """Refuse a decimal integer written in ``value`` that no 64-bit column can hold."""
    digits = value.lstrip("+-")
    if digits.isdigit() and len(digits) > 18 and not INT64_MIN <= int(value) <= INT64_MAX:
        raise ValidationError("integer out of range (64-bit)", field=field)


def first_problem(value: Any, path: str = "") -> tuple[str, str] | None:
    """(field path, message) of the first bad string, key or integer in a parsed JSON value."""
    stack: list[tuple[Any, str, int]] = [(value, path, 0)]
    while stack:
        item, where, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return where or "body", f"nested deeper than {MAX_JSON_DEPTH} levels"
        if isinstance(item, str):
            bad = bad_character(item)
            if bad is not None:
                return where or "body", f"contains a control character ({bad})"
        elif isinstance(item, bool):
            continue
        elif isinstance(item, int):
            if not INT64_MIN <= item <= INT64_MAX:
                return where or "body", "integer out of range (64-bit)"
        elif isinstance(item, Mapping):
            for key, child in reversed(list(item.items())):
                child_path = f"{where}.{key}" if where else str(key)
                bad = bad_character(str(key))
                if bad is not None:
                    return where or "body", f"a member name contains a control character ({bad})"
                stack.append((child, child_path, depth + 1))
        elif isinstance(item, list):
            for i in reversed(range(len(item))):
                stack.append((item[i], f"{where}.{i}" if where else str(i), depth + 1))
    return None


def too_deep(body: bytes) -> bool:
    """True if ``body`` nests arrays and objects deeper than :data:`MAX_JSON_DEPTH`."""
    # It cannot be deeper than its number of openers: most bodies skip the byte loop.
    return body.count(b"[") + body.count(b"{") > MAX_JSON_DEPTH and (
        json_depth(body) > MAX_JSON_DEPTH
    )


def json_depth(body: bytes) -> int:
    """The deepest nesting of arrays and objects in ``body`` (strings skipped)."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


def may_be_bad_json(body: bytes) -> bool:
    """True if ``body`` needs :func:`first_problem` or :func:`json_depth` to be sure."""
    return _SUSPICIOUS.search(body) is not None or (
        body.count(b"[") + body.count(b"{") > MAX_JSON_DEPTH
    )


def check_json_bytes(body: bytes, field: str = "body") -> None:
    """Refuse a raw JSON body that breaks the rule (parsing it only when it may)."""
    if not may_be_bad_json(body):
        return
    if too_deep(body):
        raise ValidationError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels", field=field)
    try:
        parsed = json.loads(body)
    except ValueError:
        return  # not JSON: the parser that owns the body reports it
    found = first_problem(parsed)
    if found is not None:
        where, message = found
        raise ValidationError(message, field=where if where != "body" else field)


def parse_json(body: bytes, field: str = "body") -> Any:
    """Parse an untrusted JSON document under the rule, every refusal a 422 naming a field."""
    if too_deep(body):
        raise ValidationError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels", field=field)
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise ValidationError(f"the body is not valid JSON: {exc}", field=field) from None
    if may_be_bad_json(body):
        found = first_problem(parsed)
        if found is not None:
            where, message = found
            raise ValidationError(message, field=where)
    return parsed

"""A bank's own transaction file, mapped onto the schema the risk engine replays and trains on.

The transaction schema (every offline path - replay, backtest, training - reads it):

============== ============================== ========= =========================================
field          type                           required  meaning
============== ============================== ========= =========================================
time           datetime, date text, or number yes       when it happened; numbers are seconds
                                                        (``time_unit``) after ``time_origin``
amount         decimal number >= 0            yes       the amount, in major units (12.50)
customer       text or integer                yes*      the card or customer the velocity
                                                        windows and card precision are per
terminal       text or integer                no        the merchant / terminal / category
                                                        (default: one terminal for all)
label          0/1, true/false                training  1 = fraud (for train and backtest)
transaction_id text or integer                no        default: the row number
============== ============================== ========= =========================================

(*) a file without a card or customer column can say ``customer: none``: every transaction is
then its own card, so per-card velocity features are empty and card precision@100 is simply
precision among the 100 riskiest transactions of each day; the report says so.

A :class:`ColumnMapping` (flags or a YAML file) names the file's column for each field:
``customer: card1``, ``terminal: ProductCD``. Missing or mistyped columns are one error naming
the column and the field.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from pydantic import ValidationError as PydanticError

from finbridge.core.errors import ValidationError

# (field, type, required, meaning): the table above as data, for `finbridge risk schema`.
TRANSACTION_SCHEMA: tuple[tuple[str, str, str, str], ...] = (
    ("time", "datetime | date text | number", "yes",
     "when; numbers are time_unit after time_origin"),
    ("amount", "number >= 0", "yes", "amount in major units"),
    ("customer", "text | integer", "yes (or 'none')", "card/customer of the velocity windows"),
    ("terminal", "text | integer", "no", "merchant, terminal or category"),
    ("label", "0/1 | true/false", "for train/backtest", "1 = fraud"),
    ("transaction_id", "text | integer (unique)", "no", "default: the row number"),
)  # fmt: skip
FIELDS = tuple(f[0] for f in TRANSACTION_SCHEMA)
NO_CUSTOMER = "none"
DEFAULT_ORIGIN = dt.datetime(2000, 1, 1)  # noqa: DTZ001 - naive like the handbook's clock


class ColumnMapping(BaseModel):
    """Which column of the file holds each field of the transaction schema."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    time: str = "TX_DATETIME"
    amount: str = "TX_AMOUNT"
    customer: str = "CUSTOMER_ID"
    terminal: str | None = "TERMINAL_ID"
    label: str | None = "TX_FRAUD"
    transaction_id: str | None = "TRANSACTION_ID"
    time_unit: Literal["auto", "datetime", "seconds", "milliseconds"] = "auto"
    time_origin: dt.datetime = DEFAULT_ORIGIN

    def column(self, field: str, columns: list[str]) -> str | None:
        """The column mapped to an optional ``field``; None when it was left at the default
        name and the file has no such column (the field is then absent, not an error)."""
        name: str | None = getattr(self, field)
        if name is not None and field not in self.model_fields_set and name not in columns:
            return None
        return name

    def merged(self, **overrides: Any) -> ColumnMapping:
        # Only what was said: a field left at its default keeps counting as unmapped.
        data = self.model_dump(include=self.model_fields_set)
        data.update({k: v for k, v in overrides.items() if v is not None})
        return mapping_from(data, source="options")


def mapping_from(data: dict[str, Any], *, source: str) -> ColumnMapping:
    try:
        return ColumnMapping.model_validate(data)
    except PydanticError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"]) or "mapping"
        raise ValidationError(f"{source}: {err['msg']}", field=key) from None


def load_mapping(path: Path) -> ColumnMapping:
    """A YAML column mapping (the keys of :class:`ColumnMapping`)."""
    import yaml

    if not path.is_file():
        raise ValidationError(f"no mapping file at {path}", field="mapping")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        first = str(exc).splitlines()[0]
        raise ValidationError(f"{path.name} is not valid YAML: {first}", field="mapping") from None
    if not isinstance(data, dict):
        raise ValidationError(f"{path.name} must be a mapping of fields", field="mapping")
    return mapping_from(data, source=path.name)

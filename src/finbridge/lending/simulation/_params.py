"""What a simulation run is asked for; every bad value is refused naming its field."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from finbridge.core.errors import ValidationError

MAX_CUSTOMERS = 30_000  # the demo's Taiwan clients
MAX_MONTHS = 60
DEFAULT_COHORTS = 4


@dataclass(frozen=True, slots=True)
class SimulationParams:
    """A run: which product, how many of the demo's customers, how long, which random stream.

    ``cohorts`` origination cohorts open evenly over the horizon (vintages); ``fx`` converts the
    Taiwan clients' NT$ limits into the product's currency (0.25: the 2005 average of about
    32.2 NT$ and 8.19 CNY to the US dollar, when the limits were set).
    """

    product_id: str = "everyday@1"
    customers: int = 10_000
    months: int = 12
    seed: int = 14
    cohorts: int = DEFAULT_COHORTS
    start: date = date(2025, 1, 1)
    fx: Decimal = Decimal("0.25")

    def __post_init__(self) -> None:
        if not isinstance(self.product_id, str) or not self.product_id.strip():
            raise ValidationError("product_id is required", field="product_id")
        _whole(self.customers, "customers", 1, MAX_CUSTOMERS)
        _whole(self.months, "months", 1, MAX_MONTHS)
        _whole(self.seed, "seed", 0, 2**63 - 1)
        _whole(self.cohorts, "cohorts", 1, self.months)
        if not isinstance(self.start, date) or self.start.day != 1:
            raise ValidationError("start must be the first day of a month", field="start")
        if not isinstance(self.fx, Decimal) or not self.fx > 0:
            raise ValidationError("fx must be a positive decimal", field="fx")

    @classmethod
    def parse(cls, data: dict[str, Any]) -> SimulationParams:
        """From strings and numbers (a form, a cached file)."""
        try:
            fx = Decimal(str(data.get("fx", "0.25")))
        except InvalidOperation as exc:
            raise ValidationError("fx must be a decimal", field="fx") from exc
        try:
            start = date.fromisoformat(str(data.get("start", "2025-01-01")))
        except ValueError as exc:
            raise ValidationError("start must be a date (YYYY-MM-DD)", field="start") from exc
        ints: dict[str, int] = {}
        for name, default in (("customers", 10_000), ("months", 12), ("seed", 14), ("cohorts", 0)):
            raw = data.get(name, default)
            try:
                ints[name] = int(str(raw))
            except ValueError as exc:
                raise ValidationError(f"{name} must be a whole number", field=name) from exc
        # Not given: quarterly cohorts, as many as the horizon holds.
        ints["cohorts"] = ints["cohorts"] or min(DEFAULT_COHORTS, max(ints["months"], 1))
        return cls(product_id=str(data.get("product_id", "everyday@1")), start=start, fx=fx, **ints)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["start"] = self.start.isoformat()
        data["fx"] = str(self.fx)
        return data


def _whole(value: object, field: str, lo: int, hi: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise ValidationError(f"{field} must be a whole number from {lo} to {hi}", field=field)

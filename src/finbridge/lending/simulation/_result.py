"""What a simulation run reports, as plain frozen values that round-trip through JSON.

Money is carried in integer minor units of the product's currency and handed out as
:class:`Money`; rates and shares are plain fractions.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from finbridge.core.money import Money
from finbridge.lending.simulation._params import SimulationParams

MONEY_FIELDS = ("limit", "balance", "spend", "payments", "interest", "fees", "charge_offs")


@dataclass(frozen=True, slots=True)
class MonthFigures:
    month: str  # YYYY-MM
    open_lines: int
    charged_off_lines: int  # charged off in this month
    buckets: tuple[int, ...]  # open lines by months past due: current, M1, M2, ...
    limit_minor: int
    balance_minor: int
    spend_minor: int
    payments_minor: int
    interest_minor: int
    fees_minor: int
    charge_offs_minor: int

    @property
    def utilisation(self) -> float:
        return 0.0 if self.limit_minor == 0 else self.balance_minor / self.limit_minor


@dataclass(frozen=True, slots=True)
class RollRate:
    source: str  # bucket at the end of a month
    target: str  # the next bucket at the end of the following month
    accounts: int  # accounts in ``source`` that had a payment due
    rolled: int

    @property
    def rate(self) -> float:
        return 0.0 if self.accounts == 0 else self.rolled / self.accounts


@dataclass(frozen=True, slots=True)
class Vintage:
    """One origination cohort: cumulative shares of its lines by month on book (1 = the month
    the lines opened)."""

    opened: str  # YYYY-MM
    lines: int
    charged_off: tuple[float, ...]
    ever_60_plus: tuple[float, ...]  # ever two or more payments behind (M2+)


@dataclass(frozen=True, slots=True)
class SimulationResult:
    params: SimulationParams
    product: dict[str, Any]  # the product's terms as catalogued (ProductTerms.to_json)
    model: dict[str, Any]  # the fitted transition matrix (RepaymentModel.to_json)
    bucket_labels: tuple[str, ...]
    months: tuple[MonthFigures, ...]
    roll_rates: tuple[RollRate, ...]
    vintages: tuple[Vintage, ...]
    created_at: datetime
    seconds: float  # wall time of the run itself, data loading and fitting included

    @property
    def currency(self) -> str:
        return str(self.product["currency"])

    def money(self, minor: int) -> Money:
        return Money.from_minor(minor, self.currency)

    def total(self, name: str) -> Money:
        """A flow summed over the months (spend, payments, interest, fees, charge_offs)."""
        if name not in MONEY_FIELDS or name in ("limit", "balance"):
            raise ValueError(f"{name} is not a flow")
        return self.money(sum(getattr(m, f"{name}_minor") for m in self.months))

    def to_json(self) -> dict[str, Any]:
        return {
            "params": self.params.to_json(),
            "product": self.product,
            "model": self.model,
            "bucket_labels": list(self.bucket_labels),
            "months": [asdict(m) for m in self.months],
            "roll_rates": [asdict(r) for r in self.roll_rates],
            "vintages": [asdict(v) for v in self.vintages],
            "created_at": self.created_at.isoformat(),
            "seconds": self.seconds,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SimulationResult:
        return cls(
            params=SimulationParams.parse(data["params"]),
            product=dict(data["product"]),
            model=dict(data["model"]),
            bucket_labels=tuple(data["bucket_labels"]),
            months=tuple(
                MonthFigures(**{**m, "buckets": tuple(m["buckets"])}) for m in data["months"]
            ),
            roll_rates=tuple(RollRate(**r) for r in data["roll_rates"]),
            vintages=tuple(
                Vintage(v["opened"], v["lines"], tuple(v["charged_off"]), tuple(v["ever_60_plus"]))
                for v in data["vintages"]
            ),
            created_at=datetime.fromisoformat(data["created_at"]),
            seconds=float(data["seconds"]),
        )

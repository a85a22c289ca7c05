"""Run configuration: validated YAML (pydantic at this boundary), no class paths anywhere.

Strategies and models are chosen by registry name; factors are expressions in our language
(or the name ``alpha158``). Example::

    name: csi300-topk
    market: cn
    data: {start: 2019-01-01, end: 2020-12-31, universe: csi300}
    benchmark: SH000300
    strategy: {name: topk_dropout, params: {topk: 10, n_drop: 2}}
    signal:
      model: lightgbm
      factors: {mom5: "ref(close, 5) / close", vol20: "std(close, 20) / close"}
      train: {start: 2015-03-01, end: 2018-12-20}
    costs: {commission_buy: 0.0005, commission_sell: 0.0015, min_commission: 5}
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic import ValidationError as PydanticError

from finbridge.core.errors import ValidationError

# The names a config may use. Kept here, not read from the registries (models.MODELS,
# backtest.strategies.STRATEGIES), so validating a request never imports scikit-learn,
# LightGBM or numba; a test keeps the two lists equal.
MODEL_NAMES = ("lightgbm", "linear")
STRATEGY_NAMES = ("buy_and_hold", "ma_crossover", "topk_dropout")

# Tunable model parameters and their bounds: a config (possibly from the API) must not be able
# to ask for a million trees or every core of the server.
MODEL_PARAMS: dict[str, dict[str, tuple[float, float]]] = {
    "lightgbm": {
        "n_estimators": (1, 2000),
        "learning_rate": (1e-4, 1.0),
        "num_leaves": (2, 1024),
        "max_depth": (-1, 64),
        "min_child_samples": (1, 100_000),
        "subsample": (0.1, 1.0),
        "colsample_bytree": (0.1, 1.0),
        "reg_alpha": (0.0, 10_000.0),
        "reg_lambda": (0.0, 10_000.0),
        "n_jobs": (1, 2),
    },
    "linear": {"alpha": (0.0, 1e6)},
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataConfig(_Strict):
    instruments: list[str] | None = None
    start: dt.date
    end: dt.date
    universe: Literal["all", "csi300"] = "all"
    kind: Literal["stocks", "etfs"] = "stocks"  # US only
    data_dir: Path | None = None  # default: the slice bundled with the package

    @model_validator(mode="after")
    def _order(self) -> DataConfig:
        if self.end <= self.start:
            raise ValueError("data.end must be after data.start")
        return self


class Window(_Strict):
    start: dt.date
    end: dt.date


class WalkForwardConfig(_Strict):
    mode: Literal["rolling", "expanding"] = "expanding"
    train_years: int = Field(default=3, ge=1, le=20)
    step_months: int = Field(default=6, ge=1, le=60)


class SignalConfig(_Strict):
    model: str = "lightgbm"
    model_params: dict[str, float | int | str] = Field(default_factory=dict)
    factors: Literal["alpha158"] | dict[str, str] = "alpha158"
    train: Window
    # Retrain during the backtest on a rolling or expanding window instead of fitting once on
    # ``train`` (which then only sets the earliest training date).
    walk_forward: WalkForwardConfig | None = None
    # Feature processors by name, applied in order; stateful ones fit on the training window.
    processors: list[Literal["winsorize", "zscore", "cs_zscore", "cs_rank", "fillna"]] = Field(
        default_factory=list
    )
    # Sessions between the decision and the end of the feature window; > 0 would read the
    # future and is refused.
    feature_window_end: int = 0

    @model_validator(mode="after")
    def _known_model(self) -> SignalConfig:
        if self.model not in MODEL_NAMES:
            raise ValueError(f"unknown model {self.model!r}; choose from {sorted(MODEL_NAMES)}")
        allowed = MODEL_PARAMS[self.model]
        for key, value in self.model_params.items():
            if key not in allowed:
                raise ValueError(f"model_params.{key} is not allowed; allowed: {sorted(allowed)}")
            lo, hi = allowed[key]
            if isinstance(value, str) or not lo <= value <= hi:
                raise ValueError(f"model_params.{key} must be a number in [{lo}, {hi}]")
        return self


class StrategyConfig(_Strict):
    name: str
    params: dict[str, float | int | str | bool | None] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known(self) -> StrategyConfig:
        if self.name not in STRATEGY_NAMES:
            raise ValueError(
                f"unknown strategy {self.name!r}; choose from {sorted(STRATEGY_NAMES)}"
            )
        return self


class CostConfig(_Strict):
    commission_buy: float | None = Field(default=None, ge=0, le=0.1)
    commission_sell: float | None = Field(default=None, ge=0, le=0.1)
    min_commission: float | None = Field(default=None, ge=0)
    slippage: float | None = Field(default=None, ge=0, le=0.1)
    stamp_duty: bool = True


class BacktestConfig(_Strict):
    name: str = Field(min_length=1, max_length=100)
    # cn, us (the bundled data) or a market imported with `finbridge quant data import`
    market: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")
    # An imported market's profile by default; a shipped profile's name (cn, us, uk) overrides.
    profile: str | None = None
    data: DataConfig
    benchmark: str | None = None
    strategy: StrategyConfig
    signal: SignalConfig | None = None
    costs: CostConfig = CostConfig()
    initial_cash: float = Field(default=1_000_000.0, gt=0)
    fill: Literal["open", "close"] = "open"
    on_insufficient_cash: Literal["reduce", "reject", "raise"] = "reduce"

    @model_validator(mode="after")
    def _coherent(self) -> BacktestConfig:
        if self.strategy.name == "topk_dropout" and self.signal is None:
            raise ValueError("topk_dropout needs a signal section")
        if self.signal is not None and self.signal.train.end >= self.data.start:
            raise ValueError(
                f"signal.train.end {self.signal.train.end} must be before data.start "
                f"{self.data.start}: training may not overlap the backtest"
            )
        if self.data.universe == "csi300" and self.market != "cn":
            raise ValueError("universe csi300 needs market cn")
        return self

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def parse_config(raw: dict[str, Any] | str) -> BacktestConfig:
    """Validate a dict or YAML text; errors become :class:`ValidationError` naming the field."""
    if isinstance(raw, str):
        try:
            raw = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise ValidationError(f"not valid YAML: {exc}", field="config") from None
    if not isinstance(raw, dict):
        raise ValidationError("config must be a mapping", field="config")
    try:
        return BacktestConfig.model_validate(raw)
    except PydanticError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "config"
        raise ValidationError(f"{first['msg']}", field=where) from None


def load_config(path: Path) -> BacktestConfig:
    if not path.exists():
        raise ValidationError(f"no such file: {path}", field="config")
    return parse_config(path.read_text(encoding="utf-8"))

"""Model portfolios per investor category, built with skfolio and validated walk-forward.

Each category C1..C5 has one specification (:data:`SPECS`): a universe drawn from the
catalogue, an skfolio estimator and constraints on single weights and on the share of growth
assets (equity, sector, commodity, leveraged). Validation: skfolio's ``WalkForward`` (train on
``TRAIN_DAYS``, hold for ``TEST_DAYS``, then refit) through ``cross_val_predict``; the
out-of-sample daily returns are then charged ``COST_RATE`` on every rebalance's turnover
(measured against the weights the previous period drifted to), here rather than in skfolio,
whose portfolio spreads a cost over every observation. Equal weight over the whole universe and
60/40 (SPY/AGG) are rebalanced on the same dates at the same cost. A turnover limit (settings:
``advisory.max_turnover``) caps what each refit may trade; :mod:`.turnover` says how.

skfolio and pandas are imported inside the functions: ``import finbridge.advisory`` stays light.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from finbridge.advisory.catalogue import (
    TRADING_DAYS,
    PriceHistory,
    catalogue,
    load_prices,
    max_drawdown,
    risk_level,
)
from finbridge.advisory.turnover import cap, check_max_turnover, entry_params
from finbridge.core.errors import ServiceUnavailable, ValidationError

if TYPE_CHECKING:
    from skfolio.optimization import BaseOptimization

TRAIN_DAYS = 252  # one year: the first out-of-sample day is in 2008, so the crisis is tested
TEST_DAYS = 63  # rebalance quarterly
COST_RATE = 0.001  # 10 bp of the traded value, each rebalance
CVAR_BETA = 0.95
GROWTH_CLASSES = frozenset({"equity", "sector", "commodity", "leveraged"})

Floats = npt.NDArray[np.float64]


def _growth(code: str) -> bool:
    return next(p.asset_class for p in catalogue() if p.code == code) in GROWTH_CLASSES


@dataclass(frozen=True)
class ModelSpec:
    category: str
    method: str  # what a person reads: which skfolio model and objective
    universe: tuple[str, ...]
    build: Callable[[tuple[str, ...]], BaseOptimization]
    why: str
    why_zh: str = ""


def _groups(universe: Sequence[str]) -> dict[str, list[str]]:
    return {c: ["growth" if _growth(c) else "defensive"] for c in universe}


def _min_variance(universe: tuple[str, ...]) -> BaseOptimization:
    from skfolio import RiskMeasure
    from skfolio.optimization import MeanRisk, ObjectiveFunction

    return MeanRisk(
        risk_measure=RiskMeasure.VARIANCE,
        objective_function=ObjectiveFunction.MINIMIZE_RISK,
        max_weights={"SHY": 0.3},
    )


def _min_cvar(universe: tuple[str, ...]) -> BaseOptimization:
    from skfolio import RiskMeasure
    from skfolio.optimization import MeanRisk, ObjectiveFunction

    return MeanRisk(
        risk_measure=RiskMeasure.CVAR,
        objective_function=ObjectiveFunction.MINIMIZE_RISK,
        cvar_beta=CVAR_BETA,
        max_weights=0.4,
        groups=_groups(universe),
        linear_constraints=["growth <= 0.2"],
    )


def _risk_parity(universe: tuple[str, ...]) -> BaseOptimization:
    from skfolio import RiskMeasure
    from skfolio.optimization import RiskBudgeting

    return RiskBudgeting(
        risk_measure=RiskMeasure.VARIANCE,
        groups=_groups(universe),
        linear_constraints=["growth >= 0.4", "growth <= 0.5"],
    )


def _hrp(universe: tuple[str, ...]) -> BaseOptimization:
    from skfolio import RiskMeasure
    from skfolio.optimization import HierarchicalRiskParity

    return HierarchicalRiskParity(risk_measure=RiskMeasure.VARIANCE, max_weights=0.35)


_ALL = tuple(p.code for p in catalogue() if p.kind == "fund")
_NO_CASH_NO_LEVERAGE = tuple(c for c in _ALL if c not in ("SHV", "SSO"))
_GROWTH_AND_HIGH_YIELD = (*(c for c in _ALL if _growth(c) and c != "SSO"), "HYG")

SPECS: tuple[ModelSpec, ...] = (
    ModelSpec("C1", "mean-risk, minimum variance", ("SHV", "SHY"), _min_variance,
              "treasury bills with at most 30% short treasuries: the lowest variance available",
              "短期国库券，短期国债至多 30%：可得的最低波动"),
    ModelSpec("C2", "mean-risk, minimum CVaR (95%)",
              ("SHV", "SHY", "IEF", "AGG", "TIP", "LQD", "SPY", "EFA", "GLD"), _min_cvar,
              "mostly bonds, at most 20% growth assets, chosen for the smallest average loss on "
              "the worst 5% of days",
              "以债券为主，成长类资产至多 20%，按最差 5% 交易日的平均损失最小来选择"),
    ModelSpec("C3", "risk parity (variance)", _NO_CASH_NO_LEVERAGE, _risk_parity,
              "every fund contributes the same risk, with growth assets held between 40% and "
              "50%",
              "每只基金贡献相同的风险，成长类资产保持在 40% 至 50% 之间"),
    ModelSpec("C4", "hierarchical risk parity", _GROWTH_AND_HIGH_YIELD, _hrp,
              "equity, sector and gold funds plus high yield bonds, weighted by their "
              "correlation clusters so no single market dominates",
              "股票、行业和黄金基金加高收益债券，按相关性聚类配置权重，避免单一市场主导"),
    ModelSpec("C5", "hierarchical risk parity, growth only", tuple(c for c in _ALL if _growth(c)),
              _hrp, "growth assets only, including a 2x leveraged S&P 500 fund",
              "仅成长类资产，包括一只 2 倍杠杆标普 500 基金"),
)  # fmt: skip


@dataclass(frozen=True)
class Metrics:
    annual_return: float
    annual_volatility: float
    sharpe: float  # annualised mean / volatility, risk-free rate taken as zero
    max_drawdown: float
    cvar_95: float  # mean loss on the worst 5% of days, a positive fraction
    risk_level: str  # the catalogue's rule applied to this out-of-sample history

    @classmethod
    def of(cls, returns: Floats) -> Metrics:
        nav = np.cumprod(1.0 + returns)
        years = returns.size / TRADING_DAYS
        annual = float(nav[-1] ** (1.0 / years) - 1.0)
        vol = float(returns.std(ddof=1) * np.sqrt(TRADING_DAYS))
        mean = float(returns.mean() * TRADING_DAYS)
        tail = np.sort(returns)[: max(1, int(np.floor(returns.size * (1 - CVAR_BETA))))]
        mdd = max_drawdown(np.concatenate(([1.0], nav)))
        log_vol = float(np.diff(np.log(np.concatenate(([1.0], nav)))).std(ddof=1))
        level = risk_level(log_vol * np.sqrt(TRADING_DAYS), mdd)
        return cls(annual, vol, mean / vol if vol > 0 else 0.0, mdd, float(-tail.mean()), level)


@dataclass(frozen=True)
class Backtest:
    """One strategy's walk-forward result."""

    name: str
    method: str
    universe: tuple[str, ...]
    dates: tuple[dt.date, ...]  # out-of-sample days
    returns: Floats  # net daily returns
    turnover: float  # average one-way turnover per rebalance (the first build from cash too)
    metrics: Metrics
    weights: dict[str, float]  # the model's weights fitted on the latest TRAIN_DAYS
    why: str = ""
    turnovers: tuple[float, ...] = ()  # measured one-way turnover of each rebalance, in order
    max_turnover: float | None = None  # the limit each refit was held to (None: no limit)
    # Rebalances (indices into ``turnovers``) where a weight or asset-class constraint the
    # drift had broken needed more than the limit: constraints come first (see .turnover).
    over_limit: tuple[int, ...] = ()

    @property
    def largest_rebalance(self) -> float:
        """The largest turnover of a rebalance after the first build (0 with one period)."""
        return max(self.turnovers[1:], default=0.0)


def _net_returns(
    gross: Floats, asset_returns: Floats, periods: list[tuple[int, Floats]]
) -> tuple[Floats, list[float]]:
    """Charge COST_RATE on each rebalance's turnover, against the drifted previous weights."""
    net = gross.copy()
    drifted = np.zeros(asset_returns.shape[1])
    turnovers = []
    for start, (length, weights) in zip(
        np.cumsum([0] + [n for n, _ in periods[:-1]]), periods, strict=True
    ):
        turnover = float(np.abs(weights - drifted).sum())
        turnovers.append(turnover)
        net[start] -= COST_RATE * turnover
        grown = weights * np.prod(1.0 + asset_returns[start : start + length], axis=0)
        drifted = grown / grown.sum()
    return net, turnovers


def _frame(prices: PriceHistory, universe: Sequence[str], window: slice) -> Any:
    import pandas as pd

    index = pd.to_datetime(list(prices.dates[1:]))[window]
    cols = [prices.codes.index(c) for c in universe]
    return pd.DataFrame(prices.returns()[window][:, cols], index=index, columns=list(universe))


def _evaluate(
    name: str, method: str, universe: tuple[str, ...], frame: Any,
    weights_per_period: list[tuple[int, Floats]], final: dict[str, float], why: str = "",
    max_turnover: float | None = None, over_limit: tuple[int, ...] = (),
) -> Backtest:  # fmt: skip
    # WalkForward drops a last test window shorter than TEST_DAYS: score only the held days.
    held = sum(n for n, _w in weights_per_period)
    asset = frame.to_numpy()[TRAIN_DAYS : TRAIN_DAYS + held]
    # Daily rebalanced within a period would overstate diversification; hold and drift instead.
    gross = np.empty(asset.shape[0])
    start = 0
    for n, w in weights_per_period:
        value = w * np.cumprod(1.0 + asset[start : start + n], axis=0)
        nav = np.concatenate(([1.0], value.sum(axis=1)))
        gross[start : start + n] = nav[1:] / nav[:-1] - 1.0
        start += n
    net, turnovers = _net_returns(gross, asset, weights_per_period)
    if not np.isfinite(net).all():  # a solver that failed quietly must not become a metric
        raise ServiceUnavailable(f"the {name} model could not be solved on this window")
    dates = tuple(d.date() for d in frame.index[TRAIN_DAYS : TRAIN_DAYS + held])
    return Backtest(
        name, method, universe, dates, net, float(np.mean(turnovers)), Metrics.of(net), final,
        why, tuple(turnovers), max_turnover, over_limit,
    )  # fmt: skip


def _splits(n_obs: int) -> list[tuple[int, int]]:
    from skfolio.model_selection import WalkForward

    cv = WalkForward(train_size=TRAIN_DAYS, test_size=TEST_DAYS)
    return [(int(test[0]), len(test)) for _train, test in cv.split(np.zeros((n_obs, 1)))]


def walk_forward(
    spec: ModelSpec, prices: PriceHistory, window: slice, max_turnover: float | None = None
) -> Backtest:
    """Validate one model out of sample with skfolio's walk-forward cross-validation, each
    refit after the first held to ``max_turnover`` one-way turnover (None: no limit)."""
    from skfolio.model_selection import WalkForward, cross_val_predict

    limit = check_max_turnover(max_turnover)
    frame = _frame(prices, spec.universe, window)
    if len(frame) < TRAIN_DAYS + TEST_DAYS:
        raise ValidationError(
            f"the window needs at least {TRAIN_DAYS + TEST_DAYS} days", field="window"
        )
    cv = WalkForward(train_size=TRAIN_DAYS, test_size=TEST_DAYS)
    model = cap(spec.build(spec.universe), limit)
    predicted = cross_val_predict(model, frame, cv=cv, entry_rebalancing_params=entry_params(model))
    periods = [(len(p.returns), np.asarray(p.weights, dtype=float)) for p in predicted.portfolios]
    # Today's weights are one more refit, held to the same limit from where the last period
    # drifted to (without a limit the previous weights change nothing).
    latest = cap(spec.build(spec.universe), limit)
    if limit is not None:
        latest.set_params(previous_weights=predicted.portfolios[-1].ending_weights_dict)
    latest.fit(frame.iloc[-TRAIN_DAYS:])
    final = {c: float(w) for c, w in zip(spec.universe, latest.weights_, strict=True) if w > 1e-6}
    over = tuple(i for i, p in enumerate(predicted.portfolios) if i and p.fallback_chain)
    return _evaluate(
        spec.category, spec.method, spec.universe, frame, periods, final, spec.why, limit, over
    )


def fixed_weights(
    name: str, weights: dict[str, float], prices: PriceHistory, window: slice
) -> Backtest:
    """A fixed-weight benchmark rebalanced on the walk-forward's dates at the same cost."""
    universe = tuple(weights)
    frame = _frame(prices, universe, window)
    w = np.array([weights[c] for c in universe])
    periods = [(n, w) for _s, n in _splits(len(frame))]
    return _evaluate(name, "fixed weights", universe, frame, periods, dict(weights))


@dataclass(frozen=True)
class ModelReport:
    models: tuple[Backtest, ...]  # C1..C5
    benchmarks: tuple[Backtest, ...]  # equal weight, 60/40
    start: dt.date
    end: dt.date

    def model(self, category: str) -> Backtest:
        for m in self.models:
            if m.name == category:
                return m
        raise ValidationError("must be one of C1..C5", field="category")

    @property
    def max_turnover(self) -> float | None:
        """The one-way turnover limit every model's refits were held to (None: no limit)."""
        return self.models[0].max_turnover

    def turnover_rule(self) -> str:
        """The turnover limit in words (the report and the console say the same)."""
        limit = self.max_turnover
        if limit is None:
            return "Turnover limit: none (each refit may trade as much as it likes)."
        return (
            f"Turnover limit: each refit after the first build trades at most {limit:.0%} "
            "one-way (the sum of |weight changes| against the weights the last period drifted "
            "to; 200% would replace everything). Weight and asset-class rules come first: a "
            'rebalance counted "over limit" needed more to repair a rule the drift had broken.'
        )

    def risk_ordered(self) -> bool:
        """Out-of-sample volatility and drawdown rise with the category."""
        vols = [m.metrics.annual_volatility for m in self.models]
        drawdowns = [m.metrics.max_drawdown for m in self.models]
        return vols == sorted(vols) and drawdowns == sorted(drawdowns)


def build_models(
    prices: PriceHistory | None = None, *, start: dt.date | None = None,
    end: dt.date | None = None, max_turnover: float | None = None,
) -> ModelReport:  # fmt: skip
    """Fit and validate every category's model and both benchmarks on ``start..end``, each
    model's refits held to ``max_turnover`` one-way turnover (None: no limit)."""
    limit = check_max_turnover(max_turnover)
    prices = prices or load_prices()
    days = prices.dates[1:]
    lo = 0 if start is None else bisect.bisect_left(days, start)
    hi = len(days) if end is None else bisect.bisect_right(days, end)
    window = slice(lo, hi)
    models = tuple(walk_forward(spec, prices, window, limit) for spec in SPECS)
    funds = tuple(c for c in prices.codes)
    benchmarks = (
        fixed_weights("equal weight", {c: 1.0 / len(funds) for c in funds}, prices, window),
        fixed_weights("60/40", {"SPY": 0.6, "AGG": 0.4}, prices, window),
    )
    return ModelReport(models, benchmarks, models[0].dates[0], models[0].dates[-1])


def check_weights(weights: dict[str, float], codes: Sequence[str]) -> dict[str, float]:
    """A hand-made model's weights: known funds with a price history, none negative, summing
    to one (within 1e-6). Each error names the weight it is about."""
    if not isinstance(weights, dict) or not weights:
        raise ValidationError("give at least one fund and its weight", field="weights")
    clean: dict[str, float] = {}
    for code, weight in weights.items():
        if code not in codes:
            raise ValidationError(f"no fund {code!r} with a price history", field=f"weights.{code}")
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight != weight:
            raise ValidationError("must be a number", field=f"weights.{code}")
        if weight < 0:
            raise ValidationError("must not be negative", field=f"weights.{code}")
        if weight > 0:
            clean[code] = float(weight)
    total = sum(clean.values())
    if abs(total - 1.0) > 1e-6:
        raise ValidationError(f"weights must sum to one (they sum to {total:.6f})", field="weights")
    return clean


def evaluate_weights(weights: dict[str, float], prices: PriceHistory | None = None) -> Backtest:
    """A hand-made model, validated like the benchmarks: rebalanced on the walk-forward's
    dates at the same cost, over the whole shipped window."""
    prices = prices or load_prices()
    clean = check_weights(weights, prices.codes)
    return fixed_weights("hand-made", clean, prices, slice(0, len(prices.dates) - 1))

"""A cap on how much a model portfolio's refit may trade: one-way turnover per rebalance.

Turnover here is what the walk-forward measures and the report shows: the sum over funds of
``|new weight - weight the previous portfolio drifted to|`` (0 = no trade, 2 = sell everything
and buy something else). The first build from cash is not a rebalance and is not capped.

How each skfolio estimator is held to the cap (skfolio 1.12):

- ``MeanRisk`` has ``max_turnover`` with ``previous_weights``, but it bounds *each fund's*
  change, not the total; we set it (it also makes ``cross_val_predict`` pass the previous
  portfolio's drifted weights to the next fit) and add the total through skfolio's own
  ``add_constraints`` hook, which is given the estimator and so its ``previous_weights``.
- ``RiskBudgeting`` has no ``max_turnover``; it is convex, so the same total constraint goes
  in through ``add_constraints``, scaled by ``sum(w)`` because its weights are normalised
  only after solving (with the budget constraint ``sum(w)`` equals skfolio's ``factor``).
- ``HierarchicalRiskParity`` solves no problem at all (``previous_weights`` only prices costs),
  so :class:`PartialRebalance` moves from the drifted weights toward its target by as much of
  the way as the cap allows.

Weight and asset-class constraints come before the turnover cap: when both cannot hold (the
drift already broke a bound by more than the cap can repair), a convex model falls back to its
uncapped twin and the partial rebalance goes at least as far as the per-fund bounds need.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from finbridge.core.errors import ValidationError

MAX_POSSIBLE = 2.0  # selling every fund and buying others: sum |dw| = 2


def check_max_turnover(value: object, *, field: str = "max_turnover") -> float | None:
    """A turnover limit: ``None`` (no cap) or a number in (0, 2]."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise ValidationError("must be a number", field=field)
    if not 0 < value <= MAX_POSSIBLE:
        raise ValidationError(
            "one-way turnover per rebalance must be above 0 and at most 2 "
            f"(sum of |weight changes|), got {value}",
            field=field,
        )
    return float(value)


def previous_array(model: Any, n_assets: int) -> npt.NDArray[np.float64] | None:
    """The estimator's ``previous_weights`` in its column order (None before the first build)."""
    previous = model.previous_weights
    if previous is None:
        return None
    if isinstance(previous, Mapping):
        names = list(getattr(model, "feature_names_in_", ()))
        return np.array([float(previous.get(name, 0.0)) for name in names])
    array = np.asarray(previous, dtype=float)
    return np.full(n_assets, float(array)) if array.ndim == 0 else array


def total_turnover(limit: float) -> Callable[[Any, Any], list[Any]]:
    """skfolio ``add_constraints`` hook: ``sum |w - previous| <= limit`` (scaled by sum(w),
    which is 1 for mean-risk and skfolio's normalising factor for risk budgeting). A plain
    function: skfolio reads its ``__code__`` to pass the estimator as the second argument."""

    def within(w: Any, model: Any) -> list[Any]:
        import cvxpy as cp

        previous = previous_array(model, w.shape[0])
        if previous is None:
            return []
        scale = cp.sum(w)
        return [cp.sum(cp.abs(w - previous * scale)) <= limit * scale]

    return within


def cap(model: Any, limit: float | None) -> Any:
    """``model`` held to ``limit`` one-way turnover per refit (see the module docstring)."""
    from skfolio.optimization import ConvexOptimization
    from sklearn.base import clone

    if limit is None:
        return model
    drift = {**(model.portfolio_params or {}), "weight_drift": True}
    if isinstance(model, ConvexOptimization):
        uncapped = clone(model)
        extra = {"max_turnover": limit} if "max_turnover" in model.get_params() else {}
        return model.set_params(
            add_constraints=total_turnover(limit), fallback=uncapped, portfolio_params=drift,
            **extra,
        )  # fmt: skip
    return PartialRebalance(model, max_turnover=limit, portfolio_params=drift)


def entry_params(model: Any) -> dict[str, Any] | None:
    """What the walk-forward relaxes for the first build from cash (it is not a rebalance)."""
    return {"max_turnover": None} if model.get_params().get("max_turnover") is not None else None


def partial_move(
    drifted: npt.NDArray[np.float64], target: npt.NDArray[np.float64], limit: float,
    max_weights: float | None = None,
) -> tuple[npt.NDArray[np.float64], bool]:  # fmt: skip
    """``drifted + a * (target - drifted)`` with the largest ``a <= 1`` the limit allows, raised
    where needed so no fund stays above ``max_weights`` (the target itself obeys it). The flag
    says whether the bound made the move larger than the limit."""
    gap = target - drifted
    total = float(np.abs(gap).sum())
    a = 1.0 if total <= limit else limit / total
    capped = a
    if max_weights is not None:
        over = (drifted > max_weights + 1e-12) & (gap < 0)
        if over.any():
            a = min(1.0, max(a, float(((drifted[over] - max_weights) / -gap[over]).max())))
    return np.asarray(drifted + a * gap, dtype=np.float64), a > capped


def _partial_rebalance_class() -> type:
    """Defined on first use: skfolio is imported lazily (``import finbridge.advisory`` stays
    light), and an estimator class must subclass skfolio's base."""
    from skfolio.optimization import BaseOptimization
    from sklearn.base import clone

    class _PartialRebalance(BaseOptimization):  # type: ignore[misc]
        """Fit ``estimator``, then move from ``previous_weights`` toward its weights by at
        most ``max_turnover`` (the whole way when no previous weights are given)."""

        def __init__(
            self,
            estimator: Any = None,
            max_turnover: float | None = None,
            portfolio_params: dict[str, Any] | None = None,
            previous_weights: Any = None,
        ) -> None:
            super().__init__(portfolio_params=portfolio_params, previous_weights=previous_weights)
            self.estimator = estimator
            self.max_turnover = max_turnover

        def fit(self, X: Any, y: Any = None, **fit_params: Any) -> Any:
            self.estimator_ = clone(self.estimator).fit(X, y)
            self.feature_names_in_ = self.estimator_.feature_names_in_
            self.n_features_in_ = self.estimator_.n_features_in_
            target = np.asarray(self.estimator_.weights_, dtype=float)
            previous = previous_array(self, target.size)
            if previous is None or self.max_turnover is None:
                self.weights_ = target
            else:
                bound = getattr(self.estimator, "max_weights", None)
                bound = float(bound) if isinstance(bound, (int, float)) else None
                self.weights_, raised = partial_move(previous, target, self.max_turnover, bound)
                if raised:  # told like skfolio's fallbacks: the predicted portfolio carries it
                    self.fallback_chain_ = [
                        (f"max_turnover={self.max_turnover}", "exceeded to meet max_weights")
                    ]
            return self

    return _PartialRebalance


_CLASS: list[type] = []


def PartialRebalance(estimator: Any, **params: Any) -> Any:
    """A skfolio estimator for models without a turnover constraint (HRP): see the module."""
    if not _CLASS:
        _CLASS.append(_partial_rebalance_class())
    return _CLASS[0](estimator, **params)

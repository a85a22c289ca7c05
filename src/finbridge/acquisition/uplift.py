"""Uplift: whom does the message move (the Hillstrom e-mail experiment).

Treat the people a message changes, not those who would visit anyway. Three learners:

- :class:`TwoModel`: one LightGBM per arm; uplift = p(y | treated) - p(y | control).
- :class:`ClassTransformation`: one LightGBM on z = y*t + (1-y)*(1-t) with each arm weighted to
  half the mass (Hillstrom treats 2/3 of people), so uplift = 2 p(z) - 1 holds exactly.
- :class:`UpliftForest`: ours. No maintained library offers an uplift forest that installs with
  numpy 2 and our scikit-learn (see ``docs/decisions.md``), so it is written here: histogram
  splits maximising the spread of the treatment effect, ``n_l tau_l^2 + n_r tau_r^2 - n tau^2``
  (the causal-tree criterion without its variance term), at least ``min_arm`` treated and
  control rows in every child, bootstrapped trees over a random share of the features.

Evaluation (:func:`qini_curve`, :func:`uplift_curve`, :func:`uplift_at`): people sorted by
predicted uplift; the Qini curve is ``Y_t(k) - Y_c(k) N_t(k) / N_c(k)``, the uplift curve
``(Y_t(k)/N_t(k) - Y_c(k)/N_c(k)) k``; each coefficient is the area between the curve and the
random-targeting line, with both axes as shares of the population (0 = random, higher better).
The learner is picked by Qini on a validation part and reported on a test part it never saw.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from finbridge.core.errors import ValidationError

if TYPE_CHECKING:
    pass

SEED = 17
FEATURES = ("recency", "history", "mens", "womens", "newbie", "zip_code", "channel")
_LGBM: dict[str, Any] = {
    "n_estimators": 200,
    "learning_rate": 0.05,
    "num_leaves": 15,
    "min_child_samples": 100,
    "verbose": -1,
    "n_jobs": 1,  # see response.TUNED_PARAMS: one thread is fastest on a shared machine
}


@dataclass(frozen=True)
class UpliftData:
    x: np.ndarray  # float64, columns FEATURES (categoricals as integer codes)
    treatment: np.ndarray  # 0/1
    outcome: np.ndarray  # 0/1
    feature_names: tuple[str, ...] = FEATURES

    def take(self, rows: np.ndarray) -> UpliftData:
        return UpliftData(self.x[rows], self.treatment[rows], self.outcome[rows])


def load_hillstrom(path: Path, *, outcome: str = "visit") -> UpliftData:
    """Any e-mail (Mens or Womens) against No E-Mail; outcome ``visit`` (or ``conversion``)."""
    import pandas as pd

    frame = pd.read_parquet(path)
    if outcome not in {"visit", "conversion"}:
        raise ValidationError("outcome must be visit or conversion", field="outcome")
    missing = [c for c in (*FEATURES, "segment", outcome) if c not in frame.columns]
    if missing:
        raise ValidationError(f"{path.name} lacks columns {missing}", field="columns")
    cols = []
    for name in FEATURES:
        col = frame[name]
        if not pd.api.types.is_numeric_dtype(col):
            col = col.astype("category").cat.codes
        cols.append(col.to_numpy(dtype="float64"))
    treated = (frame["segment"].astype(str) != "No E-Mail").to_numpy().astype("int8")
    return UpliftData(np.column_stack(cols), treated, frame[outcome].to_numpy().astype("int8"))


@dataclass(frozen=True)
class UpliftSplit:
    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray


def split_uplift(data: UpliftData, *, seed: int = SEED) -> UpliftSplit:
    """50 / 25 / 25, stratified on (treatment, outcome)."""
    from sklearn.model_selection import train_test_split

    strata = data.treatment * 2 + data.outcome
    idx = np.arange(len(strata))
    train, rest = train_test_split(idx, test_size=0.5, stratify=strata, random_state=seed)
    val, test = train_test_split(rest, test_size=0.5, stratify=strata[rest], random_state=seed)
    return UpliftSplit(np.sort(train), np.sort(val), np.sort(test))


class UpliftLearner(Protocol):
    def fit(self, x: np.ndarray, treatment: np.ndarray, outcome: np.ndarray) -> Any: ...

    def predict(self, x: np.ndarray) -> np.ndarray: ...

    def to_json(self) -> dict[str, Any]: ...


def _check(x: np.ndarray, treatment: np.ndarray, outcome: np.ndarray) -> None:
    if not (len(x) == len(treatment) == len(outcome)):
        raise ValidationError("features, treatment and outcome differ in length", field="rows")
    for name, arr in (("treatment", treatment), ("outcome", outcome)):
        if not np.isin(arr, (0, 1)).all():
            raise ValidationError(f"{name} must be 0/1", field=name)
    if treatment.min() == treatment.max():
        raise ValidationError("both a treated and a control group are needed", field="treatment")


@dataclass
class TwoModel:
    params: dict[str, Any] = field(default_factory=lambda: dict(_LGBM))
    models_: tuple[Any, Any] | None = None

    def fit(self, x: np.ndarray, treatment: np.ndarray, outcome: np.ndarray) -> TwoModel:
        import lightgbm as lgb

        _check(x, treatment, outcome)
        arms = []
        for arm in (1, 0):
            rows = treatment == arm
            model = lgb.LGBMClassifier(random_state=SEED, **self.params)
            arms.append(model.fit(x[rows], outcome[rows]).booster_)
        self.models_ = (arms[0], arms[1])
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        if self.models_ is None:
            raise ValidationError("the two-model learner is not fitted", field="model")
        treated, control = self.models_
        return np.asarray(treated.predict(x) - control.predict(x))

    def to_json(self) -> dict[str, Any]:
        if self.models_ is None:
            raise ValidationError("the two-model learner is not fitted", field="model")
        return {
            "params": self.params,
            "treated": self.models_[0].model_to_string(),
            "control": self.models_[1].model_to_string(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TwoModel:
        import lightgbm as lgb

        arms = (lgb.Booster(model_str=data["treated"]), lgb.Booster(model_str=data["control"]))
        return cls(dict(data["params"]), arms)


@dataclass
class ClassTransformation:
    params: dict[str, Any] = field(default_factory=lambda: dict(_LGBM))
    model_: Any = None

    def fit(self, x: np.ndarray, treatment: np.ndarray, outcome: np.ndarray) -> ClassTransformation:
        import lightgbm as lgb

        _check(x, treatment, outcome)
        z = (outcome * treatment + (1 - outcome) * (1 - treatment)).astype("int8")
        share = treatment.mean()
        weight = np.where(treatment == 1, 0.5 / share, 0.5 / (1 - share))
        model = lgb.LGBMClassifier(random_state=SEED, **self.params)
        self.model_ = model.fit(x, z, sample_weight=weight).booster_
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        if self.model_ is None:
            raise ValidationError("the class transformation is not fitted", field="model")
        return np.asarray(2.0 * self.model_.predict(x) - 1.0)

    def to_json(self) -> dict[str, Any]:
        if self.model_ is None:
            raise ValidationError("the class transformation is not fitted", field="model")
        return {"params": self.params, "booster": self.model_.model_to_string()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ClassTransformation:
        import lightgbm as lgb

        return cls(dict(data["params"]), lgb.Booster(model_str=data["booster"]))


@dataclass
class _Tree:
    feature: np.ndarray
    threshold: np.ndarray  # go left when bin <= threshold
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray


@dataclass
class UpliftForest:
    """Bootstrapped uplift trees on quantile-binned features (ours; see the module docstring)."""

    n_trees: int = 60
    max_depth: int = 5
    min_arm: int = 150
    max_features: float = 0.7
    n_bins: int = 32
    seed: int = SEED
    edges_: list[np.ndarray] = field(default_factory=list)
    trees_: list[_Tree] = field(default_factory=list)

    def _bin(self, x: np.ndarray) -> np.ndarray:
        out = np.empty(x.shape, dtype=np.int16)
        for j, edges in enumerate(self.edges_):
            out[:, j] = np.searchsorted(edges, x[:, j], side="right")
        return out

    def fit(self, x: np.ndarray, treatment: np.ndarray, outcome: np.ndarray) -> UpliftForest:
        _check(x, treatment, outcome)
        if self.n_trees < 1 or self.max_depth < 1 or self.min_arm < 1:
            raise ValidationError("n_trees, max_depth and min_arm must be positive", field="params")
        quantiles = np.linspace(0, 1, self.n_bins + 1)[1:-1]
        self.edges_ = [np.unique(np.quantile(x[:, j], quantiles)) for j in range(x.shape[1])]
        xb = self._bin(x)
        t = treatment.astype(np.float64)
        y = outcome.astype(np.float64)
        rng = np.random.default_rng(self.seed)
        self.trees_ = []
        for _ in range(self.n_trees):
            rows = rng.integers(0, len(x), len(x))
            self.trees_.append(self._grow(xb[rows], t[rows], y[rows], rng))
        return self

    def _grow(
        self, xb: np.ndarray, t: np.ndarray, y: np.ndarray, rng: np.random.Generator
    ) -> _Tree:
        n_feat = xb.shape[1]
        k = max(1, round(self.max_features * n_feat))
        feature: list[int] = []
        threshold: list[int] = []
        left: list[int] = []
        right: list[int] = []
        value: list[float] = []

        def tau(rows: np.ndarray) -> float:
            nt = t[rows].sum()
            nc = len(rows) - nt
            yt = (t[rows] * y[rows]).sum()
            yc = y[rows].sum() - yt
            return float(yt / max(nt, 1.0) - yc / max(nc, 1.0))

        stack: list[tuple[int, np.ndarray, int]] = []

        def new_node(rows: np.ndarray, depth: int) -> int:
            node = len(value)
            feature.append(-1)
            threshold.append(0)
            left.append(-1)
            right.append(-1)
            value.append(tau(rows))
            stack.append((node, rows, depth))
            return node

        new_node(np.arange(len(t)), 0)
        while stack:
            node, rows, depth = stack.pop()
            if depth >= self.max_depth or len(rows) < 4 * self.min_arm:
                continue
            best = self._best_split(
                xb[rows], t[rows], y[rows], rng.choice(n_feat, k, replace=False)
            )
            if best is None:
                continue
            f, thr = best
            goes_left = xb[rows, f] <= thr
            feature[node], threshold[node] = f, thr
            left[node] = new_node(rows[goes_left], depth + 1)
            right[node] = new_node(rows[~goes_left], depth + 1)
        return _Tree(
            np.array(feature), np.array(threshold), np.array(left), np.array(right), np.array(value)
        )

    def _best_split(
        self, xb: np.ndarray, t: np.ndarray, y: np.ndarray, features: np.ndarray
    ) -> tuple[int, int] | None:
        n = len(t)
        ty = t * y
        n_t, y_t, y_all = t.sum(), ty.sum(), y.sum()
        parent = n * (y_t / n_t - (y_all - y_t) / (n - n_t)) ** 2 if 0 < n_t < n else 0.0
        best_gain, best = 0.0, None
        for f in features:
            b = xb[:, f]
            size = int(b.max()) + 1
            cnt = np.cumsum(np.bincount(b, minlength=size))[:-1]
            nt_l = np.cumsum(np.bincount(b, weights=t, minlength=size))[:-1]
            yt_l = np.cumsum(np.bincount(b, weights=ty, minlength=size))[:-1]
            y_l = np.cumsum(np.bincount(b, weights=y, minlength=size))[:-1]
            nc_l = cnt - nt_l
            nt_r, nc_r = n_t - nt_l, (n - cnt) - (n_t - nt_l)
            ok = np.minimum.reduce([nt_l, nc_l, nt_r, nc_r]) >= self.min_arm
            if not ok.any():
                continue
            with np.errstate(divide="ignore", invalid="ignore"):
                tau_l = yt_l / nt_l - (y_l - yt_l) / nc_l
                tau_r = (y_t - yt_l) / nt_r - ((y_all - y_l) - (y_t - yt_l)) / nc_r
                gain = cnt * tau_l**2 + (n - cnt) * tau_r**2 - parent
            gain = np.where(ok, gain, -np.inf)
            j = int(np.argmax(gain))
            if gain[j] > best_gain:
                best_gain, best = float(gain[j]), (int(f), j)
        return best

    def predict(self, x: np.ndarray) -> np.ndarray:
        if not self.trees_:
            raise ValidationError("the forest is not fitted", field="model")
        xb = self._bin(x)
        rows = np.arange(len(x))
        total = np.zeros(len(x))
        for tree in self.trees_:
            node = np.zeros(len(x), dtype=np.int64)
            for _ in range(self.max_depth):
                f = tree.feature[node]
                inner = f >= 0
                if not inner.any():
                    break
                go_left = xb[rows, np.where(inner, f, 0)] <= tree.threshold[node]
                node = np.where(inner, np.where(go_left, tree.left[node], tree.right[node]), node)
            total += tree.value[node]
        return total / len(self.trees_)

    _PARAMS = ("n_trees", "max_depth", "min_arm", "max_features", "n_bins", "seed")

    def to_json(self) -> dict[str, Any]:
        if not self.trees_:
            raise ValidationError("the forest is not fitted", field="model")
        return {
            "params": {k: getattr(self, k) for k in self._PARAMS},
            "edges": [e.tolist() for e in self.edges_],
            "trees": [
                {k: getattr(t, k).tolist() for k in ("feature", "threshold", "left", "right")}
                | {"value": t.value.tolist()}
                for t in self.trees_
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> UpliftForest:
        forest = cls(**data["params"])
        forest.edges_ = [np.asarray(e, dtype=np.float64) for e in data["edges"]]
        forest.trees_ = [
            _Tree(
                np.asarray(t["feature"], dtype=np.int64),
                np.asarray(t["threshold"], dtype=np.int64),
                np.asarray(t["left"], dtype=np.int64),
                np.asarray(t["right"], dtype=np.int64),
                np.asarray(t["value"], dtype=np.float64),
            )
            for t in data["trees"]
        ]
        return forest


LEARNERS: dict[str, type[TwoModel] | type[ClassTransformation] | type[UpliftForest]] = {
    "two_model": TwoModel,
    "class_transformation": ClassTransformation,
    "uplift_forest": UpliftForest,
}


def learner_from_json(name: str, data: dict[str, Any]) -> UpliftLearner:
    """A stored learner (:meth:`to_json` of one of :data:`LEARNERS`) back in memory."""
    if name not in LEARNERS:
        raise ValidationError(f"unknown uplift learner {name!r}", field="learner")
    return LEARNERS[name].from_json(data)


# -- evaluation -------------------------------------------------------------------------


@dataclass(frozen=True)
class Curve:
    share: np.ndarray  # share of the population targeted, 0..1
    gain: np.ndarray  # incremental outcomes as a share of the population

    def area_over_random(self) -> float:
        random = self.share * self.gain[-1]
        return float(np.trapezoid(self.gain - random, self.share))


def _cumulative(
    uplift: np.ndarray, treatment: np.ndarray, outcome: np.ndarray
) -> tuple[np.ndarray, ...]:
    order = np.argsort(-uplift, kind="stable")
    t, y = treatment[order].astype(np.float64), outcome[order].astype(np.float64)
    n_t = np.cumsum(t)
    n_c = np.cumsum(1 - t)
    y_t = np.cumsum(y * t)
    y_c = np.cumsum(y * (1 - t))
    return n_t, n_c, y_t, y_c


def qini_curve(uplift: np.ndarray, treatment: np.ndarray, outcome: np.ndarray) -> Curve:
    n_t, n_c, y_t, y_c = _cumulative(uplift, treatment, outcome)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(n_c > 0, y_t - y_c * n_t / n_c, 0.0)
    n = len(uplift)
    return Curve(np.r_[0.0, np.arange(1, n + 1) / n], np.r_[0.0, q / n])


def uplift_curve(uplift: np.ndarray, treatment: np.ndarray, outcome: np.ndarray) -> Curve:
    n_t, n_c, y_t, y_c = _cumulative(uplift, treatment, outcome)
    k = np.arange(1, len(uplift) + 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        u = np.where((n_t > 0) & (n_c > 0), (y_t / n_t - y_c / n_c) * k, 0.0)
    n = len(uplift)
    return Curve(np.r_[0.0, k / n], np.r_[0.0, u / n])


def uplift_at(
    uplift: np.ndarray, treatment: np.ndarray, outcome: np.ndarray, share: float = 0.3
) -> float:
    """Treated minus control response rate among the top ``share`` by predicted uplift."""
    if not 0 < share <= 1:
        raise ValidationError("share must be in (0, 1]", field="share")
    top = np.argsort(-uplift, kind="stable")[: max(1, round(share * len(uplift)))]
    t, y = treatment[top], outcome[top]
    if t.sum() == 0 or t.sum() == len(t):
        return float("nan")
    return float(y[t == 1].mean() - y[t == 0].mean())


@dataclass(frozen=True)
class UpliftScores:
    qini: float
    auuc: float
    uplift_at_30: float

    @classmethod
    def of(cls, uplift: np.ndarray, data: UpliftData) -> UpliftScores:
        t, y = data.treatment, data.outcome
        return cls(
            round(qini_curve(uplift, t, y).area_over_random(), 6),
            round(uplift_curve(uplift, t, y).area_over_random(), 6),
            round(uplift_at(uplift, t, y, 0.3), 6),
        )


def default_learners(*, n_trees: int = 60) -> dict[str, UpliftLearner]:
    return {
        "two_model": TwoModel(),
        "class_transformation": ClassTransformation(),
        "uplift_forest": UpliftForest(n_trees=n_trees),
    }


@dataclass(frozen=True)
class UpliftReport:
    chosen: str
    validation: dict[str, UpliftScores]
    test: dict[str, UpliftScores]
    qini_points: list[tuple[float, float]]  # the chosen learner's test Qini curve, 50 points
    random_points: list[tuple[float, float]]
    rows: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return {
            "chosen": self.chosen,
            "validation": {k: vars(v) for k, v in self.validation.items()},
            "test": {k: vars(v) for k, v in self.test.items()},
            "qini_points": self.qini_points,
            "random_points": self.random_points,
            "rows": self.rows,
        }


def _thin(curve: Curve, points: int = 50) -> list[tuple[float, float]]:
    idx = np.unique(np.linspace(0, len(curve.share) - 1, points + 1).round().astype(int))
    return [(round(float(curve.share[i]), 4), round(float(curve.gain[i]), 6)) for i in idx]


def evaluate_uplift(
    data: UpliftData, learners: dict[str, UpliftLearner] | None = None, *, seed: int = SEED
) -> tuple[UpliftLearner, UpliftReport]:
    """Fit every learner on the train part, pick the best validation Qini, report on test."""
    learners = learners if learners is not None else default_learners()
    if not learners:
        raise ValidationError("at least one learner is needed", field="learners")
    parts = split_uplift(data, seed=seed)
    train, val, test = data.take(parts.train), data.take(parts.validation), data.take(parts.test)
    on_val: dict[str, UpliftScores] = {}
    on_test: dict[str, UpliftScores] = {}
    for name, learner in learners.items():
        learner.fit(train.x, train.treatment, train.outcome)
        on_val[name] = UpliftScores.of(learner.predict(val.x), val)
        on_test[name] = UpliftScores.of(learner.predict(test.x), test)
    chosen = max(on_val, key=lambda k: on_val[k].qini)
    curve = qini_curve(learners[chosen].predict(test.x), test.treatment, test.outcome)
    random = Curve(curve.share, curve.share * curve.gain[-1])
    report = UpliftReport(
        chosen,
        on_val,
        on_test,
        _thin(curve),
        _thin(random),
        {"train": len(parts.train), "validation": len(parts.validation), "test": len(parts.test)},
    )
    return learners[chosen], report

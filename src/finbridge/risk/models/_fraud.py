"""The fraud score: LightGBM on point-in-time features, with the fraud handbook's protocol.

Protocol (Le Borgne et al., *Reproducible Machine Learning for Credit Card Fraud Detection*,
Chapter 3): train on 7 days, wait a 7-day feedback delay, test on the following 7 days; cards
already known to be compromised (frauds seen in training or in the delay period up to the day
before) are removed from the test days; report AUC, average precision and card precision@100
averaged over the test days. A plain logistic regression on the handbook's own features runs on
the same split as the baseline.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from finbridge.core.errors import ValidationError
from finbridge.risk.models._features import HANDBOOK_FEATURES, MODEL_FEATURES

if TYPE_CHECKING:  # LightGBM, scikit-learn and numba load when a model is trained or loaded
    import lightgbm as lgb

# The handbook's timestamps are naive (simulated local time); so is its split date.
HANDBOOK_START = datetime(2018, 7, 25)  # noqa: DTZ001
LGB_PARAMS: dict[str, Any] = {
    "objective": "binary",
    "learning_rate": 0.05,
    "num_leaves": 7,
    "min_child_samples": 100,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "verbose": -1,
    "num_threads": 1,
    "seed": 7,
    "deterministic": True,
}


@dataclass(frozen=True, slots=True)
class Split:
    train: pl.DataFrame
    test: pl.DataFrame


def handbook_split(
    frame: pl.DataFrame,
    start: datetime = HANDBOOK_START,
    train_days: int = 7,
    delay_days: int = 7,
    test_days: int = 7,
) -> Split:
    """The handbook's ``get_train_test_set``: known compromised cards leave the test days."""
    day = pl.col("TX_TIME_DAYS")
    train = frame.filter(
        (pl.col("TX_DATETIME") >= start)
        & (pl.col("TX_DATETIME") < start + timedelta(days=train_days))
    )
    first_day = int(train["TX_TIME_DAYS"].min())  # type: ignore[arg-type]
    known = set(train.filter(pl.col("TX_FRAUD") == 1)["CUSTOMER_ID"].to_list())
    days = []
    for d in range(test_days):
        delay_day = frame.filter(day == first_day + train_days + d - 1)
        known |= set(delay_day.filter(pl.col("TX_FRAUD") == 1)["CUSTOMER_ID"].to_list())
        test_day = frame.filter(day == first_day + train_days + delay_days + d)
        days.append(test_day.filter(~pl.col("CUSTOMER_ID").is_in(list(known))))
    return Split(train, pl.concat(days).sort("TRANSACTION_ID"))


def card_precision_at_k(test: pl.DataFrame, scores: np.ndarray, k: int = 100) -> float:
    """Mean over test days of the share of truly compromised cards among the k riskiest.

    As in the handbook: per day, a card's score is its highest transaction score; cards found
    compromised on earlier test days are taken out of later days.
    """
    df = test.select("TX_TIME_DAYS", "CUSTOMER_ID", "TX_FRAUD").with_columns(
        pl.Series("score", scores)
    )
    detected: set[int] = set()
    precisions = []
    for d in sorted(df["TX_TIME_DAYS"].unique().to_list()):
        day = df.filter((pl.col("TX_TIME_DAYS") == d) & ~pl.col("CUSTOMER_ID").is_in(detected))
        cards = (
            day.group_by("CUSTOMER_ID")
            .agg(pl.col("score").max(), pl.col("TX_FRAUD").max())
            .sort(["score", "CUSTOMER_ID"], descending=[True, False])
            .head(k)
        )
        hits = cards.filter(pl.col("TX_FRAUD") == 1)["CUSTOMER_ID"].to_list()
        precisions.append(len(hits) / k)
        detected |= set(hits)
    return float(np.mean(precisions))


@dataclass(frozen=True, slots=True)
class Metrics:
    model: str
    auc: float
    average_precision: float
    card_precision_100: float
    train_rows: int
    test_rows: int

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "auc": round(self.auc, 4),
            "average_precision": round(self.average_precision, 4),
            "card_precision_100": round(self.card_precision_100, 4),
            "train_rows": self.train_rows,
            "test_rows": self.test_rows,
        }


def evaluate(name: str, split: Split, scores: np.ndarray) -> Metrics:
    from sklearn.metrics import average_precision_score, roc_auc_score

    y = split.test["TX_FRAUD"].to_numpy()
    return Metrics(
        name,
        float(roc_auc_score(y, scores)),
        float(average_precision_score(y, scores)),
        card_precision_at_k(split.test, scores, 100),
        split.train.height,
        split.test.height,
    )


@dataclass(frozen=True, slots=True)
class FlatTrees:
    """A LightGBM model flattened into arrays, evaluated by a numba kernel.

    LightGBM's own ``predict`` pays a fixed cost per call (about 0.1 ms for one row) and is slow
    for millions of rows on a contended machine; the same trees as arrays score one row in
    microseconds and a table at memory speed. A test checks the scores equal ``predict``'s.
    """

    roots: np.ndarray
    feature: np.ndarray  # -1 marks a leaf
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    default_left: np.ndarray
    value: np.ndarray

    @classmethod
    def of(cls, booster: lgb.Booster) -> FlatTrees:
        dump = booster.dump_model()
        if not str(dump.get("objective", "")).startswith("binary"):
            raise ValueError("only binary LightGBM models are supported")
        feature: list[int] = []
        threshold: list[float] = []
        left: list[int] = []
        right: list[int] = []
        default_left: list[bool] = []
        value: list[float] = []
        roots: list[int] = []

        def add(node: dict[str, Any]) -> int:
            i = len(feature)
            feature.append(-1)
            threshold.append(0.0)
            left.append(-1)
            right.append(-1)
            default_left.append(True)
            value.append(float(node.get("leaf_value", 0.0)))
            if "split_feature" in node:
                if node.get("decision_type") != "<=" or node.get("missing_type") not in (
                    "None",
                    "NaN",
                ):
                    raise ValueError("unsupported split type in the model")
                feature[i] = int(node["split_feature"])
                threshold[i] = float(node["threshold"])
                default_left[i] = bool(node.get("default_left", True))
                left[i] = add(node["left_child"])
                right[i] = add(node["right_child"])
            return i

        for tree in dump["tree_info"]:
            roots.append(add(tree["tree_structure"]))
        return cls(
            np.array(roots, np.int64),
            np.array(feature, np.int64),
            np.array(threshold, np.float64),
            np.array(left, np.int64),
            np.array(right, np.int64),
            np.array(default_left, np.bool_),
            np.array(value, np.float64),
        )

    def raw_row(self, x: np.ndarray) -> float:
        from finbridge.risk.models._kernels import tree_row

        trees = (self.roots, self.feature, self.threshold, self.left, self.right)
        return float(tree_row(x, *trees, self.default_left, self.value))

    def predict(self, x: np.ndarray) -> np.ndarray:
        from finbridge.risk.models._kernels import trees_block, trees_parallel

        xt = np.ascontiguousarray(np.asarray(x, dtype=np.float64).T)
        raw = np.zeros(xt.shape[1])
        trees = (self.roots, self.feature, self.threshold, self.left, self.right)
        if xt.shape[1] >= PARALLEL_FROM_ROWS:
            trees_parallel(xt, *trees, self.default_left, self.value, raw)
        else:
            trees_block(xt, 0, xt.shape[1], *trees, self.default_left, self.value, raw)
        return np.asarray(1.0 / (1.0 + np.exp(-raw)))


PARALLEL_FROM_ROWS = 100_000  # below this, starting worker threads costs more than it saves


class FraudModel:
    """A trained LightGBM booster with its feature list and version; scores feature maps."""

    def __init__(self, booster: lgb.Booster, feature_names: Sequence[str], version: str) -> None:
        self.booster = booster
        self.feature_names = list(feature_names)
        self._width = len(self.feature_names)
        self.version = version
        self.trees = FlatTrees.of(booster)

    @classmethod
    def fit(
        cls,
        train: pl.DataFrame,
        features: Sequence[str] = MODEL_FEATURES,
        *,
        rounds: int = 400,
        version: str = "",
    ) -> FraudModel:
        import lightgbm as lgb

        x = train.select(features).to_numpy().astype(np.float64)
        y = train["TX_FRAUD"].to_numpy()
        booster = lgb.train(
            LGB_PARAMS, lgb.Dataset(x, y, feature_name=list(features)), num_boost_round=rounds
        )
        last = str(train["TX_DATETIME"].max())[:10].replace("-", "")
        return cls(booster, features, version or f"lgbm-{last}-{rounds}r")

    def score_matrix(self, x: np.ndarray) -> np.ndarray:
        return self.trees.predict(x)

    def score_frame(self, frame: pl.DataFrame) -> np.ndarray:
        return self.score_matrix(frame.select(self.feature_names).to_numpy().astype(np.float64))

    def score(self, features: Mapping[str, float]) -> float:
        """One row's score (an online decision): the batch score to within 1 ulp, without a
        matrix, a transpose or an array exponential (about half of what this cost, measured)."""
        row = np.fromiter(
            (features.get(n, 0.0) for n in self.feature_names), np.float64, self._width
        )
        raw = self.trees.raw_row(row)
        return 1.0 / (1.0 + math.exp(-raw))

    def score_many(self, rows: Sequence[Mapping[str, float]]) -> list[float]:
        """:meth:`score` of several rows in one kernel call (a micro-batch of online decisions):
        the very same floats, since the trees are summed in the same order and the logistic is
        taken row by row as there; what is saved is the per-row call into the kernel."""
        from finbridge.risk.models._kernels import trees_block

        names, width, n = self.feature_names, self._width, len(rows)
        flat = np.fromiter((row.get(f, 0.0) for row in rows for f in names), np.float64, n * width)
        xt = np.ascontiguousarray(flat.reshape(n, width).T)
        raw = np.zeros(n)
        t = self.trees
        trees_block(xt, 0, n, t.roots, t.feature, t.threshold, t.left, t.right,
                    t.default_left, t.value, raw)  # fmt: skip
        return [1.0 / (1.0 + math.exp(-r)) for r in raw.tolist()]

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        doc = {
            "version": self.version,
            "features": self.feature_names,
            "booster": self.booster.model_to_string(),
        }
        path.write_text(json.dumps(doc))

    @classmethod
    def load(cls, path: Path) -> FraudModel:
        import lightgbm as lgb

        doc = json.loads(path.read_text())
        booster = lgb.Booster(model_str=doc["booster"])
        return cls(booster, doc["features"], doc["version"])


def fit_logistic(train: pl.DataFrame, features: Sequence[str] = HANDBOOK_FEATURES) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = train.select(features).to_numpy().astype(np.float64)
    y = train["TX_FRAUD"].to_numpy()
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(x, y)


def handbook_benchmark(
    frame: pl.DataFrame,
    start: datetime = HANDBOOK_START,
    rounds: int = 400,
    *,
    train_days: int = 7,
    delay_days: int = 7,
    test_days: int = 7,
) -> tuple[FraudModel, list[Metrics]]:
    """Train LightGBM and the logistic baseline on the handbook split; return both metrics."""
    split = handbook_split(frame, start, train_days, delay_days, test_days)
    for part, rows in (("training", split.train), ("test", split.test)):
        frauds = int(rows["TX_FRAUD"].sum()) if rows.height else 0
        if frauds == 0 or frauds == rows.height:
            raise ValidationError(
                f"the {part} window ({rows.height} transactions) has {frauds} frauds: both "
                "classes are needed; widen the windows (--train-days, --test-days)",
                field="label",
            )
    model = FraudModel.fit(split.train, rounds=rounds)
    lr = fit_logistic(split.train)
    lr_scores = lr.predict_proba(split.test.select(HANDBOOK_FEATURES).to_numpy())[:, 1]
    return model, [
        evaluate("logistic_regression (handbook features)", split, lr_scores),
        evaluate(
            "lightgbm (velocity + delayed terminal risk)", split, model.score_frame(split.test)
        ),
    ]


ARTIFACT = Path(__file__).parents[1] / "artifacts" / "fraud_lgbm.json"


def load_default_model() -> FraudModel | None:
    """The shipped model (trained by ``finbridge risk train`` on the handbook's training week)."""
    return FraudModel.load(ARTIFACT) if ARTIFACT.exists() else None

"""Histogram gradient boosting whose split finding works from (G, H) histograms alone.

The same growing code runs centralised (one party holds every column) and federated (the
partner's histograms arrive encrypted and are decrypted by the label holder), which is what
makes SecureBoost lossless: both see identical histograms up to fixed-point rounding.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class BoostParams:
    n_trees: int = 20
    max_depth: int = 3
    learning_rate: float = 0.3
    reg_lambda: float = 1.0
    min_child_weight: float = 1.0
    min_gain: float = 1e-6
    subsample: float = 1.0
    seed: int = 0


@dataclass
class Node:
    weight: float = 0.0
    owner: str | None = None  # None for a leaf, else the party whose feature splits here
    feature: int = -1  # the owner's local feature index (bank) or -1 (partner keeps it)
    threshold: int = -1  # bin index: rows with bin <= threshold go left (bank only)
    record: int = -1  # partner's split record id (the partner keeps feature and bin)
    left: int = -1
    right: int = -1


@dataclass
class Tree:
    nodes: list[Node] = field(default_factory=list)


Histograms = list[tuple[np.ndarray, np.ndarray, np.ndarray]]  # per feature: G, H, count


class HistogramSource(Protocol):
    """A party's columns as seen by the tree grower."""

    owner: str

    def start_tree(self, g: np.ndarray, h: np.ndarray, rows: np.ndarray) -> None: ...

    def histograms(self, node_rows: list[np.ndarray]) -> list[Histograms]: ...

    def split(self, rows: np.ndarray, feature: int, threshold: int) -> tuple[int, np.ndarray]:
        """Apply a split; returns (partner record id or -1, mask of rows going left)."""
        ...


class LocalSource:
    """Plaintext histograms over a binned matrix this process holds."""

    def __init__(self, bins: np.ndarray, n_bins: list[int], owner: str = "bank") -> None:
        self.bins = bins
        self.n_bins = n_bins
        self.owner = owner
        self.records: list[tuple[int, int]] = []

    def start_tree(self, g: np.ndarray, h: np.ndarray, rows: np.ndarray) -> None:
        self._g, self._h = g, h

    def histograms(self, node_rows: list[np.ndarray]) -> list[Histograms]:
        out = []
        for rows in node_rows:
            per = []
            for j, nb in enumerate(self.n_bins):
                b = self.bins[rows, j]
                per.append(
                    (
                        np.bincount(b, weights=self._g[rows], minlength=nb),
                        np.bincount(b, weights=self._h[rows], minlength=nb),
                        np.bincount(b, minlength=nb).astype(float),
                    )
                )
            out.append(per)
        return out

    def split(self, rows: np.ndarray, feature: int, threshold: int) -> tuple[int, np.ndarray]:
        return -1, self.bins[rows, feature] <= threshold


def best_split(
    hist: Histograms, g_sum: float, h_sum: float, p: BoostParams
) -> tuple[float, int, int]:
    """(gain, feature, threshold) of the best split in ``hist``; gain <= 0 when none."""
    best = (0.0, -1, -1)
    parent = g_sum * g_sum / (h_sum + p.reg_lambda)
    for j, (G, H, _C) in enumerate(hist):
        gl = np.cumsum(G)[:-1]
        hl = np.cumsum(H)[:-1]
        gr, hr = g_sum - gl, h_sum - hl
        ok = (hl >= p.min_child_weight) & (hr >= p.min_child_weight)
        if not ok.any():
            continue
        gain = np.where(
            ok, gl * gl / (hl + p.reg_lambda) + gr * gr / (hr + p.reg_lambda) - parent, -np.inf
        )
        k = int(np.argmax(gain))
        if gain[k] > best[0] + p.min_gain:
            best = (float(gain[k]), j, k)
    return best


def grow_tree(
    g: np.ndarray, h: np.ndarray, rows: np.ndarray, sources: list[HistogramSource], p: BoostParams
) -> tuple[Tree, np.ndarray]:
    """One tree; returns it and the leaf weight for every training row in ``rows``."""
    for s in sources:
        s.start_tree(g, h, rows)
    tree = Tree([Node()])
    frontier = [(0, rows)]
    leaf_of = {}
    for _depth in range(p.max_depth):
        if not frontier:
            break
        node_rows = [r for _, r in frontier]
        hists = [s.histograms(node_rows) for s in sources]
        nxt = []
        for k, (node_id, r) in enumerate(frontier):
            gs, hs = float(g[r].sum()), float(h[r].sum())
            choice = max(
                ((best_split(hists[si][k], gs, hs, p), si) for si in range(len(sources))),
                key=lambda t: t[0][0],
            )
            (gain, feature, threshold), si = choice
            if gain <= 0 or feature < 0:
                leaf_of[node_id] = r
                continue
            source = sources[si]
            record, left_mask = source.split(r, feature, threshold)
            node = tree.nodes[node_id]
            node.owner = source.owner
            if record >= 0:
                node.record = record
            else:
                node.feature, node.threshold = feature, threshold
            node.left, node.right = len(tree.nodes), len(tree.nodes) + 1
            tree.nodes += [Node(), Node()]
            nxt += [(node.left, r[left_mask]), (node.right, r[~left_mask])]
        frontier = nxt
    for node_id, r in frontier:
        leaf_of[node_id] = r
    out = np.zeros(len(g))
    for node_id, r in leaf_of.items():
        w = -float(g[r].sum()) / (float(h[r].sum()) + p.reg_lambda) * p.learning_rate
        tree.nodes[node_id].weight = w
        out[r] = w
    return tree, out


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def boost(
    y: np.ndarray,
    sources: list[HistogramSource],
    p: BoostParams,
    on_tree: object = None,
) -> tuple[list[Tree], float]:
    """Fit ``p.n_trees`` trees for log-loss; returns the trees and the base log-odds."""
    rate = float(np.clip(y.mean(), 1e-6, 1 - 1e-6))
    base = float(np.log(rate / (1 - rate)))
    raw = np.full(len(y), base)
    rng = np.random.default_rng(p.seed)
    trees = []
    all_rows = np.arange(len(y))
    for t in range(p.n_trees):
        prob = sigmoid(raw)
        g, h = prob - y, prob * (1 - prob)
        rows = (
            np.sort(rng.choice(all_rows, int(len(y) * p.subsample), replace=False))
            if p.subsample < 1
            else all_rows
        )
        tree, leaf = grow_tree(g, h, rows, sources, p)
        trees.append(tree)
        if p.subsample < 1:  # rows outside the sample still need routing through the tree
            raw += predict_tree(tree, {s.owner: s for s in sources}, all_rows)
        else:
            raw += leaf
        if callable(on_tree):
            on_tree(t + 1, p.n_trees)
    return trees, base


class Router(Protocol):
    def directions(self, rows: np.ndarray, node: Node) -> np.ndarray: ...


def predict_tree(tree: Tree, routers: Mapping[str, object], rows: np.ndarray) -> np.ndarray:
    """Leaf weight per row; each split is decided by the party that owns its feature."""
    out = np.zeros(len(rows))
    stack = [(0, np.arange(len(rows)))]
    while stack:
        node_id, idx = stack.pop()
        node = tree.nodes[node_id]
        if node.owner is None:
            out[idx] = node.weight
            continue
        go_left = _route(routers[node.owner], rows[idx], node)
        stack += [(node.left, idx[go_left]), (node.right, idx[~go_left])]
    return out


def _route(router: object, rows: np.ndarray, node: Node) -> np.ndarray:
    if isinstance(router, LocalSource):
        return router.bins[rows, node.feature] <= node.threshold  # type: ignore[no-any-return]
    return router.directions(rows, node)  # type: ignore[attr-defined, no-any-return]

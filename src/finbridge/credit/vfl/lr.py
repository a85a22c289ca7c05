"""Vertical logistic regression (label holder's side) on binned, one-hot features.

Per mini-batch: the partner returns its partial scores ``u_p`` for the batch rows; the bank
computes residuals ``d = sigmoid(u_b + u_p) - y``, updates its own weights in the clear and sends
``[[d]]`` under its Paillier key. The partner sums the ciphertexts per one-hot column (homomorphic
additions only, because the columns are bin indicators), adds a fresh 100-bit mask to each sum
and folds them several per ciphertext; the bank decrypts and returns the masked sums; the partner
removes its masks and updates its own weights. The bank never sees the partner's gradient or
weights; the partner never sees a residual or a label.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from finbridge.credit.paillier import (
    ParallelEncryptor,
    PrivateKey,
    ciphertexts_from_bytes,
    unpack_repacked,
)
from finbridge.credit.transport import Channel
from finbridge.credit.vfl.gbdt import sigmoid
from finbridge.credit.vfl.optim import Adam
from finbridge.credit.vfl.partner import LR_FRAC_BITS, LR_SHIFT
from finbridge.credit.vfl.rpc import call


@dataclass(frozen=True)
class LRParams:
    n_iter: int = 40
    batch_size: int = 1024
    lr: float = 0.05
    l2: float = 1e-3
    seed: int = 0


def batches(n: int, p: LRParams) -> list[np.ndarray]:
    """The same batch sequence for the federated model and its centralised twin."""
    rng = np.random.default_rng(p.seed)
    out: list[np.ndarray] = []
    while len(out) < p.n_iter:
        perm = rng.permutation(n)
        out += [np.sort(perm[i : i + p.batch_size]) for i in range(0, n, p.batch_size)]
    return out[: p.n_iter]


@dataclass
class LinearModel:
    weights: np.ndarray
    intercept: float

    def raw(self, X: np.ndarray) -> np.ndarray:
        return X @ self.weights + self.intercept


def train_central(X: np.ndarray, y: np.ndarray, p: LRParams) -> LinearModel:
    """Plain mini-batch Adam on one party's (or the pooled) one-hot matrix."""
    rate = float(np.clip(y.mean(), 1e-6, 1 - 1e-6))
    w = np.zeros(X.shape[1])
    b = float(np.log(rate / (1 - rate)))
    opt = Adam(X.shape[1] + 1, lr=p.lr)
    for rows in batches(len(y), p):
        d = sigmoid(X[rows] @ w + b) - y[rows]
        grad = np.append(X[rows].T @ d / len(rows) + p.l2 * w, d.mean())
        theta = opt.step(np.append(w, b), grad)
        w, b = theta[:-1], float(theta[-1])
    return LinearModel(w, b)


def train_federated(
    channel: Channel,
    sk: PrivateKey,
    encryptor: ParallelEncryptor,
    Xb: np.ndarray,
    y: np.ndarray,
    p: LRParams,
    progress: Callable[[int, int], None] | None = None,
) -> LinearModel:
    """The bank's half; the partner's half of the weights stays with the partner."""
    head, _, _ = call(channel, "lr.init", {"lr": p.lr, "l2": p.l2})
    width = int(head["width"])
    rate = float(np.clip(y.mean(), 1e-6, 1 - 1e-6))
    w = np.zeros(Xb.shape[1])
    b = float(np.log(rate / (1 - rate)))
    opt = Adam(Xb.shape[1] + 1, lr=p.lr)
    scale = float(1 << LR_FRAC_BITS)
    n = int(sk.public.n)
    plan = batches(len(y), p)
    for k, rows in enumerate(plan):
        r = rows.astype("<u4")
        _, arrays, _ = call(channel, "lr.forward", {"dataset": "train"}, {"rows": r})
        d = sigmoid(Xb[rows] @ w + b + arrays["u"]) - y[rows]
        grad = np.append(Xb[rows].T @ d / len(rows) + p.l2 * w, d.mean())
        theta = opt.step(np.append(w, b), grad)
        w, b = theta[:-1], float(theta[-1])
        plain = [int(v) % n for v in np.rint(d * scale).astype(np.int64)]
        _, _, blob = call(
            channel, "lr.grad", arrays={"rows": r}, blob=encryptor.encrypt_bytes(plain)
        )
        encryptor.prefetch(len(rows))
        packed = ciphertexts_from_bytes(sk.public, blob)
        values = unpack_repacked(sk, packed, width, LR_SHIFT)
        size = LR_SHIFT // 8
        call(channel, "lr.unmask", blob=b"".join(v.to_bytes(size, "big") for v in values))
        if progress:
            progress(k + 1, len(plan))
    return LinearModel(w, b)


def partner_scores(channel: Channel, dataset: str, rows: np.ndarray) -> np.ndarray:
    _, arrays, _ = call(channel, "lr.forward", {"dataset": dataset}, {"rows": rows.astype("<u4")})
    return np.asarray(arrays["u"], dtype=float)

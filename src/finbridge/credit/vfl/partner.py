"""The partner's side of vertical learning: answers the label holder's requests on its data.

The partner never receives labels, gradients or residuals in the clear: only Paillier
ciphertexts under the bank's key, row positions and split choices. It keeps its feature values,
bin edges, split thresholds and its logistic-regression weights to itself.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gmpy2
import numpy as np
import pandas as pd
from gmpy2 import mpz

from finbridge.core.errors import FinbridgeError, ValidationError
from finbridge.credit.paillier import (
    MIN_KEY_BITS,
    PublicKey,
    ciphertexts_from_bytes,
    ciphertexts_to_bytes,
    repack,
)
from finbridge.credit.transport import Channel
from finbridge.credit.vfl import wire
from finbridge.credit.vfl.binning import QuantileBinner
from finbridge.credit.vfl.optim import Adam
from finbridge.credit.vfl.rpc import CMD, REPLY
from finbridge.credit.vfl.secureboost import TRIPLE_BITS

LR_FRAC_BITS = 32


class JobAborted(FinbridgeError):
    code = "job_aborted"
    title = "The other party aborted the job"


MASK_BITS = 100
LR_SHIFT = 112


def _rows_key(rows: np.ndarray) -> bytes:
    return hashlib.sha256(rows.astype(np.int64).tobytes()).digest()


def encrypted_histogram(
    pk: PublicKey, cts: list[Any], rows: np.ndarray, col: np.ndarray, n_bins: int
) -> list[mpz]:
    """Per-bin homomorphic sums of the ciphertexts of ``rows`` (``col`` gives each row's bin)."""
    out = [mpz(1)] * n_bins  # 1 is the (trivial) encryption of 0
    n2 = pk.n2
    for i, b in zip(rows.tolist(), col[rows].tolist(), strict=True):
        out[b] = out[b] * cts[i] % n2
    return out


@dataclass
class PartnerSession:
    """State of one job on the partner's side."""

    features: pd.DataFrame  # the partner's own rows, in its own order
    min_key_bits: int = MIN_KEY_BITS
    pk: PublicKey | None = None
    rows_of: dict[str, np.ndarray] = field(default_factory=dict)  # dataset -> own row indices
    binner: QuantileBinner | None = None
    bins: dict[str, np.ndarray] = field(default_factory=dict)
    cts: list[Any] = field(default_factory=list)
    hist_cache: dict[bytes, list[Any]] = field(default_factory=dict)
    records: list[tuple[int, int]] = field(default_factory=list)
    weights: np.ndarray | None = None
    adam: Adam | None = None
    masks: list[int] = field(default_factory=list)
    batch_size: int = 0
    l2: float = 0.0
    progress: Callable[[str, float], None] | None = None

    # -- dispatch ---------------------------------------------------------------------------
    def handle(
        self, op: str, head: dict[str, Any], arrays: dict[str, np.ndarray], blob: bytes
    ) -> tuple[dict[str, Any], dict[str, np.ndarray], bytes]:
        fn = getattr(self, "op_" + op.replace(".", "_"), None)
        if fn is None:
            raise ValidationError(f"unknown operation {op!r}", field="op")
        return fn(head, arrays, blob)  # type: ignore[no-any-return]

    def _key(self) -> PublicKey:
        if self.pk is None:
            raise ValidationError("no public key yet: send hello first", field="op")
        return self.pk

    def _bins(self, dataset: str) -> np.ndarray:
        if dataset not in self.bins:
            raise ValidationError(f"unknown dataset {dataset!r}", field="dataset")
        return self.bins[dataset]

    # -- setup --------------------------------------------------------------------------------
    def op_hello(self, head: dict[str, Any], _a: Any, _b: bytes) -> Any:
        self.pk = PublicKey.from_ints(
            int(head["n"], 16), int(head["hs"], 16), min_bits=self.min_key_bits
        )
        return {"features": int(self.features.shape[1])}, None, b""

    def op_align(self, head: dict[str, Any], arrays: dict[str, np.ndarray], _b: bytes) -> Any:
        rows = arrays["rows"].astype(np.int64)
        if rows.size and (rows.min() < 0 or rows.max() >= len(self.features)):
            raise ValidationError(
                "alignment refers to rows the partner does not have", field="rows"
            )
        self.rows_of[str(head["dataset"])] = rows
        return {"n": int(rows.size)}, None, b""

    def _ensure_bins(self) -> None:
        if self.binner is None:
            if "train" not in self.rows_of:
                raise ValidationError("align a 'train' dataset first", field="dataset")
            self.binner = QuantileBinner().fit(self.features.iloc[self.rows_of["train"]])
            for name, rows in self.rows_of.items():
                self.bins[name] = self.binner.transform(self.features.iloc[rows])

    # -- SecureBoost --------------------------------------------------------------------------
    def op_sb_init(self, _h: Any, _a: Any, _b: bytes) -> Any:
        self._ensure_bins()
        assert self.binner is not None
        return {"n_bins": self.binner.n_bins}, None, b""

    def op_sb_tree(self, _h: Any, arrays: dict[str, np.ndarray], blob: bytes) -> Any:
        pk = self._key()
        rows = arrays["rows"].astype(np.int64)
        cts = ciphertexts_from_bytes(pk, blob)
        if len(cts) != rows.size:
            raise ValidationError("one ciphertext per row expected", field="ciphertext")
        full: list[Any] = [None] * len(self._bins("train"))
        for r, c in zip(rows.tolist(), cts, strict=True):
            full[r] = c
        self.cts = full
        self.hist_cache = {}
        if self.progress:
            self.progress("secureboost tree", 0.0)
        return {}, None, b""

    def op_sb_hist(self, head: dict[str, Any], arrays: dict[str, np.ndarray], _b: bytes) -> Any:
        pk = self._key()
        bins = self._bins("train")
        assert self.binner is not None
        nodes = [arrays[f"n{k}"].astype(np.int64) for k in range(int(head["nodes"]))]
        for rows in nodes:
            if rows.size and self.cts[int(rows[0])] is None:
                raise ValidationError("rows outside this tree's sample", field="rows")

        def direct(rows: np.ndarray) -> list[mpz]:
            out: list[mpz] = []
            for j, nb in enumerate(self.binner.n_bins):  # type: ignore[union-attr]
                out += encrypted_histogram(pk, self.cts, rows, bins[:, j], nb)
            return out

        per_node: list[list[mpz]] = []
        if head.get("pairs"):
            # Siblings: sum the smaller child, derive the larger as parent / smaller.
            for k in range(0, len(nodes), 2):
                left, right = nodes[k], nodes[k + 1]
                parent = self.hist_cache.get(_rows_key(np.sort(np.concatenate([left, right]))))
                if parent is None:
                    per_node += [direct(left), direct(right)]
                    continue
                small_first = left.size <= right.size
                small = direct(left if small_first else right)
                n2 = pk.n2
                big = [p * gmpy2.invert(c, n2) % n2 for p, c in zip(parent, small, strict=True)]
                per_node += [small, big] if small_first else [big, small]
        else:
            per_node = [direct(rows) for rows in nodes]
        sums: list[mpz] = []
        for rows, hist in zip(nodes, per_node, strict=True):
            self.hist_cache[_rows_key(rows)] = hist
            sums += hist
        return {}, None, ciphertexts_to_bytes(pk, repack(pk, sums, TRIPLE_BITS))

    def op_sb_split(self, head: dict[str, Any], arrays: dict[str, np.ndarray], _b: bytes) -> Any:
        feature, threshold = int(head["feature"]), int(head["threshold"])
        rows = arrays["rows"].astype(np.int64)
        self.records.append((feature, threshold))
        left = self._bins("train")[rows, feature] <= threshold
        return {"record": len(self.records) - 1}, {"left": left.astype("|b1")}, b""

    def op_sb_route(self, head: dict[str, Any], arrays: dict[str, np.ndarray], _b: bytes) -> Any:
        record = int(head["record"])
        if not 0 <= record < len(self.records):
            raise ValidationError(f"unknown split record {record}", field="record")
        feature, threshold = self.records[record]
        rows = arrays["rows"].astype(np.int64)
        left = self._bins(str(head["dataset"]))[rows, feature] <= threshold
        return {}, {"left": left.astype("|b1")}, b""

    # -- logistic regression ------------------------------------------------------------------
    def op_lr_init(self, head: dict[str, Any], _a: Any, _b: bytes) -> Any:
        self._ensure_bins()
        assert self.binner is not None
        width = sum(self.binner.n_bins)
        self.weights = np.zeros(width)
        self.adam = Adam(width, lr=float(head["lr"]))
        self.l2 = float(head["l2"])
        return {"width": width}, None, b""

    def _onehot(self, dataset: str, rows: np.ndarray) -> np.ndarray:
        assert self.binner is not None
        return self.binner.one_hot(self._bins(dataset)[rows])

    def op_lr_forward(self, head: dict[str, Any], arrays: dict[str, np.ndarray], _b: bytes) -> Any:
        if self.weights is None:
            raise ValidationError("lr.init first", field="op")
        rows = arrays["rows"].astype(np.int64)
        u = self._onehot(str(head["dataset"]), rows) @ self.weights
        return {}, {"u": u.astype("<f8")}, b""

    def op_lr_grad(self, _h: Any, arrays: dict[str, np.ndarray], blob: bytes) -> Any:
        pk = self._key()
        assert self.binner is not None
        rows = arrays["rows"].astype(np.int64)
        cts = ciphertexts_from_bytes(pk, blob)
        if len(cts) != rows.size:
            raise ValidationError("one ciphertext per row expected", field="ciphertext")
        bins = self._bins("train")[rows]
        local = np.arange(rows.size)
        sums: list[mpz] = []
        for j, nb in enumerate(self.binner.n_bins):
            sums += encrypted_histogram(pk, cts, local, bins[:, j], nb)
        # Mask every sum with a fresh 100-bit random value before the bank decrypts it.
        self.masks = [secrets.randbits(MASK_BITS) | (1 << MASK_BITS) for _ in sums]
        masked = [pk.add_plain(c, m) for c, m in zip(sums, self.masks, strict=True)]
        self.batch_size = int(rows.size)
        return {}, None, ciphertexts_to_bytes(pk, repack(pk, masked, LR_SHIFT))

    def op_lr_unmask(self, _h: Any, _a: Any, blob: bytes) -> Any:
        assert self.weights is not None and self.adam is not None and self.pk is not None
        width = LR_SHIFT // 8
        values = [int.from_bytes(blob[i : i + width], "big") for i in range(0, len(blob), width)]
        if len(values) != len(self.masks):
            raise ValidationError("wrong number of unmasked values", field="values")
        n = int(self.pk.n)
        sums = []
        for v, m in zip(values, self.masks, strict=True):
            x = (v - m) % n
            sums.append((x - n if x > n // 2 else x) / float(1 << LR_FRAC_BITS))
        grad = np.asarray(sums) / self.batch_size + self.l2 * self.weights
        self.weights = self.adam.step(self.weights, grad)
        self.masks = []
        return {}, None, b""


def serve(
    channel: Channel,
    session: PartnerSession,
    on_done: Callable[[PartnerSession], None] | None = None,
) -> None:
    """Answer requests until the bank says 'done'; a refused request is reported, not fatal.

    ``on_done`` (persisting the partner's half) runs *before* 'done' is acknowledged, so a bank
    that registers its half after the acknowledgement knows the partner's half exists; if it
    fails, the bank gets a refusal and registers nothing.
    """
    while True:
        head, arrays, blob = wire.decode(channel.recv(CMD))
        op = str(head.get("op"))
        if op == "abort":
            raise JobAborted(f"the bank aborted the job: {head.get('reason', '')}")
        if op == "done":
            if on_done is not None:
                try:
                    on_done(session)
                except (FinbridgeError, OSError) as exc:
                    detail = f"could not keep the partner's model: {exc}"
                    channel.send(REPLY, wire.encode({"error": detail, "field": "done"}))
                    raise
            channel.send(REPLY, wire.encode({}))
            return
        try:
            h, a, b = session.handle(op, head, arrays, blob)
        except FinbridgeError as exc:
            channel.send(REPLY, wire.encode({"error": exc.detail, "field": exc.field}))
            if op == "hello":
                raise
            continue
        channel.send(REPLY, wire.encode(h, a, b))

"""SecureBoost (label holder's side): gradient boosting over both parties' columns.

Per tree the bank encrypts each sampled row's (g, h, 1) packed into one Paillier plaintext and
sends the ciphertexts; per level it asks the partner for encrypted per-bin sums of the nodes'
rows, which the partner folds several to a ciphertext; the bank decrypts, finds the best split
over its own plaintext histograms and the partner's, and for a partner split asks the partner
to apply it: the partner keeps the feature and threshold and returns which rows go left.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from finbridge.credit.paillier import (
    ParallelEncryptor,
    PrivateKey,
    ciphertexts_from_bytes,
    unpack_repacked,
)
from finbridge.credit.transport import Channel
from finbridge.credit.vfl.gbdt import (
    BoostParams,
    Histograms,
    LocalSource,
    Node,
    Tree,
    boost,
    predict_tree,
    sigmoid,
)
from finbridge.credit.vfl.rpc import call

FRAC_BITS = 24
SLOT_BITS = 48
TRIPLE_BITS = 3 * SLOT_BITS
OFFSET = 1 << (FRAC_BITS + 1)  # |g| <= 1 and h <= 1/4 stay below this bound


def pack_gh(g: np.ndarray, h: np.ndarray) -> list[int]:
    scale = float(1 << FRAC_BITS)
    gi = np.rint(g * scale).astype(np.int64) + OFFSET
    hi = np.rint(h * scale).astype(np.int64) + OFFSET
    return [
        int(a) | (int(b) << SLOT_BITS) | (1 << (2 * SLOT_BITS)) for a, b in zip(gi, hi, strict=True)
    ]


def unpack_triples(values: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mask = (1 << SLOT_BITS) - 1
    scale = float(1 << FRAC_BITS)
    cnt = np.array([(v >> (2 * SLOT_BITS)) & mask for v in values], dtype=float)
    gs = np.array([v & mask for v in values], dtype=float)
    hs = np.array([(v >> SLOT_BITS) & mask for v in values], dtype=float)
    return (gs - cnt * OFFSET) / scale, (hs - cnt * OFFSET) / scale, cnt


class RemotePartner:
    """The partner's columns as a histogram source, reached through the channel."""

    owner = "partner"

    def __init__(
        self, channel: Channel, sk: PrivateKey, encryptor: ParallelEncryptor, n_bins: list[int]
    ) -> None:
        self.channel = channel
        self.sk = sk
        self.encryptor = encryptor
        self.n_bins = n_bins
        self.bytes_received = 0

    def start_tree(self, g: np.ndarray, h: np.ndarray, rows: np.ndarray) -> None:
        blob = self.encryptor.encrypt_bytes(pack_gh(g[rows], h[rows]))
        call(self.channel, "sb.tree", arrays={"rows": rows.astype("<u4")}, blob=blob)
        # The workers are idle while the partner sums histograms: prepare the next tree's
        # randomness meanwhile.
        self.encryptor.prefetch(len(rows))

    def histograms(self, node_rows: list[np.ndarray]) -> list[Histograms]:
        arrays = {f"n{k}": r.astype("<u4") for k, r in enumerate(node_rows)}
        # Below the root, grow_tree's frontier always lists sibling pairs (left, right).
        header = {"nodes": len(node_rows), "pairs": len(node_rows) > 1}
        _, _, blob = call(self.channel, "sb.hist", header, arrays)
        self.bytes_received += len(blob)
        packed = ciphertexts_from_bytes(self.sk.public, blob)
        total = len(node_rows) * sum(self.n_bins)
        g, h, c = unpack_triples(unpack_repacked(self.sk, packed, total, TRIPLE_BITS))
        out: list[Histograms] = []
        pos = 0
        for _ in node_rows:
            per = []
            for nb in self.n_bins:
                per.append((g[pos : pos + nb], h[pos : pos + nb], c[pos : pos + nb]))
                pos += nb
            out.append(per)
        return out

    def split(self, rows: np.ndarray, feature: int, threshold: int) -> tuple[int, np.ndarray]:
        head, arrays, _ = call(
            self.channel,
            "sb.split",
            {"feature": feature, "threshold": threshold},
            {"rows": rows.astype("<u4")},
        )
        return int(head["record"]), arrays["left"].astype(bool)

    def directions(self, rows: np.ndarray, node: Node) -> np.ndarray:
        return RemoteRouter(self.channel, "train").directions(rows, node)

    def router(self, dataset: str) -> RemoteRouter:
        return RemoteRouter(self.channel, dataset)


@dataclass
class RemoteRouter:
    """Asks the partner which way rows of ``dataset`` go at one of its split records."""

    channel: Channel
    dataset: str

    def directions(self, rows: np.ndarray, node: Node) -> np.ndarray:
        _, arrays, _ = call(
            self.channel,
            "sb.route",
            {"dataset": self.dataset, "record": node.record},
            {"rows": rows.astype("<u4")},
        )
        return arrays["left"].astype(bool)


@dataclass
class FederatedBooster:
    """The bank's half of a SecureBoost model: trees, leaf weights and its own splits."""

    trees: list[Tree]
    base: float
    params: BoostParams
    partner_records: int = 0
    history: list[float] = field(default_factory=list)

    def raw(self, bank_bins: np.ndarray, n_bins: list[int], partner: object | None) -> np.ndarray:
        rows = np.arange(bank_bins.shape[0])
        routers = {"bank": LocalSource(bank_bins, n_bins)}
        if partner is not None:
            routers["partner"] = partner  # type: ignore[assignment]
        out = np.full(len(rows), self.base)
        for tree in self.trees:
            out += predict_tree(tree, routers, rows)
        return out

    def predict_proba(
        self, bank_bins: np.ndarray, n_bins: list[int], partner: object | None = None
    ) -> np.ndarray:
        return sigmoid(self.raw(bank_bins, n_bins, partner))


def train_secureboost(
    channel: Channel,
    sk: PrivateKey,
    encryptor: ParallelEncryptor,
    bank_bins: np.ndarray,
    bank_n_bins: list[int],
    y: np.ndarray,
    params: BoostParams,
    progress: Callable[[int, int], None] | None = None,
) -> FederatedBooster:
    head, _, _ = call(channel, "sb.init")
    remote = RemotePartner(channel, sk, encryptor, [int(b) for b in head["n_bins"]])
    local = LocalSource(bank_bins, bank_n_bins, "bank")
    trees, base = boost(y, [local, remote], params, on_tree=progress)
    records = sum(1 for t in trees for n in t.nodes if n.owner == "partner")
    return FederatedBooster(trees, base, params, records)


def train_central(
    bins: np.ndarray, n_bins: list[int], y: np.ndarray, params: BoostParams
) -> FederatedBooster:
    """The same booster with every column in one place (the centralised twin / bank-only)."""
    trees, base = boost(y, [LocalSource(bins, n_bins, "bank")], params)
    return FederatedBooster(trees, base, params)

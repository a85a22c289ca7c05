"""Joint models after the job: the bank's half in the registry, the partner's half on disk,
and online joint scoring of one applicant with the bank-only fallback.

The bank's artifact holds only what the bank already had during training: its own bin edges,
the trees (with the partner's split *record ids*, never the partner's features or thresholds)
or its LR weights, the bank-only twin, and the job's join-key hashing secret (needed to ask the
partner for a customer's share). The partner keeps its bin edges, split records (feature, bin)
and LR weights in ``<data_dir>/credit-joint/<job_id>.json``, keyed by the same job id that the
bank's registry version records as ``partner_model_ref``.
"""

from __future__ import annotations

import base64
import json
import math
import os
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from finbridge.core.errors import FinbridgeError, NotFound, ValidationError
from finbridge.core.principal import Principal
from finbridge.credit.data import fingerprint
from finbridge.credit.psi import hash_points
from finbridge.credit.vfl.binning import QuantileBinner
from finbridge.credit.vfl.data import PartyData, is_holdout
from finbridge.credit.vfl.gbdt import Node

if TYPE_CHECKING:
    from finbridge.credit.registry import ConsentCheck, ModelRegistry, ModelVersion, ScoreDecision
    from finbridge.credit.vfl.job import JointConfig, JointResult
    from finbridge.credit.vfl.partner import PartnerSession

LEAKAGE_PROFILES = {
    "secureboost": "docs/credit_leakage.md#step-3a-secureboost-gradient-boosted-trees",
    "lr": "docs/credit_leakage.md#step-3b-logistic-regression",
}
JOB_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
N_REASONS = 4

# (job id, keyed hash of the customer's join key, hex) -> the partner's share; raises a
# FinbridgeError (PartyUnreachable, ...) when the partner cannot answer.
PartnerShare = Callable[[str, str], dict[str, Any]]


class AnswerRouter:
    """Split directions the partner returned for one applicant, by split record."""

    def __init__(self, left: list[bool]) -> None:
        self._left = left

    def directions(self, rows: np.ndarray, node: Node) -> np.ndarray:
        if not 0 <= node.record < len(self._left):
            raise ValidationError("the partner's answer lacks a split record", field="record")
        return np.full(len(rows), self._left[node.record], dtype=bool)


@dataclass
class JointBankModel:
    """The bank's half of a joint model, as stored in the model registry."""

    job_id: str
    kind: str  # secureboost | lr
    binner: QuantileBinner
    joint: Any
    bank_only: Any
    hash_key: bytes
    join_kind: str = "phone"
    bands_: list[tuple[str, float]] = field(default_factory=list)
    base_score: float = 600.0
    base_odds: float = 50.0
    pdo: float = 20.0

    @property
    def registry_kind(self) -> str:
        return f"joint_{self.kind}"

    @property
    def features_(self) -> list[str]:
        return list(self.binner.columns_)

    def customer_hash(self, join_key: str) -> str:
        return hash_points(self.hash_key, [join_key], self.join_kind)[0].hex()

    def raw(self, bins: np.ndarray, share: dict[str, Any] | None) -> np.ndarray:
        """Log-odds of bad per row: joint with the partner's share, bank-only without."""
        if self.kind == "secureboost":
            if share is not None:
                return self.joint.raw(bins, self.binner.n_bins, AnswerRouter(share["left"]))  # type: ignore[no-any-return]
            return self.bank_only.raw(bins, self.binner.n_bins, None)  # type: ignore[no-any-return]
        X = self.binner.one_hot(bins)
        if share is not None:
            return self.joint.raw(X) + float(share["u"])  # type: ignore[no-any-return]
        return self.bank_only.raw(X)  # type: ignore[no-any-return]

    def points(self, raw: float) -> float:
        factor = self.pdo / math.log(2)
        return self.base_score - factor * math.log(self.base_odds) - factor * raw

    def band(self, score: float) -> str:
        for label, floor in self.bands_:
            if score >= floor:
                return label
        return self.bands_[-1][0] if self.bands_ else "-"

    def explain(self, applicant: pd.DataFrame, share: dict[str, Any] | None) -> dict[str, Any]:
        """Score, probability, band and the bank features that cost the most points.

        Reasons are counterfactual per bank feature: the points gained if only that feature
        sat in its best bin, the partner's share held fixed (exact for LR). The partner's
        features get no reasons here: naming them would need the partner's values.
        """
        bins = self.binner.transform(applicant)
        raw0 = float(self.raw(bins, share)[0])
        variants, owner = [], []
        for j, nb in enumerate(self.binner.n_bins):
            block = np.repeat(bins, nb, axis=0)
            block[:, j] = np.arange(nb)
            variants.append(block)
            owner += [j] * nb
        raws = self.raw(np.vstack(variants), share)
        factor = self.pdo / math.log(2)
        owners = np.asarray(owner)
        reasons = []
        for j, col in enumerate(self.binner.columns_):
            lost = factor * (raw0 - float(raws[owners == j].min()))
            if lost > 1e-9:
                value = applicant.iloc[0][col]
                value = value.item() if hasattr(value, "item") else value
                reasons.append({"feature": col, "value": value, "points": -lost,
                                "points_lost": lost})  # fmt: skip
        reasons.sort(key=lambda r: -float(r["points_lost"]))
        score = self.points(raw0)
        return {
            "score": score,
            "probability_bad": 1.0 / (1.0 + math.exp(-raw0)),
            "band": self.band(score),
            "reasons": reasons[:N_REASONS],
        }


def primary_kind(config: JointConfig) -> str:
    return "secureboost" if "secureboost" in config.models else "lr"


def bank_model_of(
    job_id: str, result: JointResult, config: JointConfig, hash_key: bytes
) -> JointBankModel:
    """The bank's half from a finished job (bands from the joint held-out predictions)."""
    kind = primary_kind(config)
    model = JointBankModel(
        job_id, kind, result.models["bank_binner"], result.models[kind],
        result.models[f"{kind}_bank_only"], hash_key, config.join_kind,
    )  # fmt: skip
    p = np.clip(np.asarray(result.predictions.get(kind, [0.5])), 1e-9, 1 - 1e-9)
    scores = np.array([model.points(float(np.log(v / (1 - v)))) for v in p])
    from finbridge.credit.scorecard import score_bands  # lazy: scorecard pulls optbinning

    model.bands_ = score_bands(scores)
    return model


def register_joint(
    registry: ModelRegistry,
    actor: Principal,
    name: str,
    job_id: str,
    result: JointResult,
    config: JointConfig,
    bank: PartyData,
    hash_key: bytes,
) -> ModelVersion:
    """Register the bank's half of a finished job as a new candidate version (one insert)."""
    model = bank_model_of(job_id, result, config, hash_key)
    m = result.metrics[model.kind]
    train = np.flatnonzero([not is_holdout(k, config.holdout) for k in bank.ids])
    labels = bank.labels[train] if bank.labels is not None else None
    metrics = {
        "auc": m["partnership"]["auc"],
        "ks": m["partnership"]["ks"],
        "gini": 2 * m["partnership"]["auc"] - 1,
        "n_holdout": m["bank_only"]["n"],
        "joint": result.metrics,
        "timings": result.timings,
    }
    params = {
        "job_id": job_id,
        "partner_model_ref": f"partner:{job_id}",
        "leakage_profile": LEAKAGE_PROFILES[model.kind],
        "models": list(config.models),
        "key_bits": config.key_bits,
        "boost": asdict(config.boost),
        "lr": asdict(config.lr),
        "join_kind": config.join_kind,
        "shared_customers": result.shared,
        "bank_customers": result.bank_customers,
        "partner_customers": result.partner_customers,
    }
    return registry.register_joint(
        actor, name, model, data_fingerprint=fingerprint(bank.features.iloc[train], labels),
        n_train=len(train), metrics=metrics, params=params,
    )  # fmt: skip


@dataclass(frozen=True)
class JointDecision:
    decision: ScoreDecision
    job_id: str
    partner_reachable: bool
    bank_only_fallback: bool
    note: str | None


def partner_share(
    partner: PartnerShare | None, job_id: str, key_hash: str
) -> tuple[dict[str, Any] | None, bool, str | None]:
    """(share or None, partner reachable?, note) for one customer."""
    if partner is None:
        return None, False, "no partner link configured; bank-only model used"
    try:
        answer = partner(job_id, key_hash)
    except FinbridgeError as exc:
        return None, False, f"partner unreachable ({exc}); bank-only model used"
    if not answer.get("found"):
        return None, True, "customer unknown to the partner; bank-only model used"
    return answer, True, None


def score_joint_online(
    registry: ModelRegistry,
    actor: Principal,
    name: str,
    *,
    customer_id: str,
    join_key: str,
    applicant: dict[str, Any],
    partner: PartnerShare | None,
    consent: ConsentCheck,
    version: int | None = None,
) -> JointDecision:
    """Score one customer with a registered joint model; record the decision and version.

    ``customer_id`` names the customer (consent, records); ``join_key`` is what the two
    parties share about them (phone or ID number), hashed with the job's key before the
    partner sees it.
    """
    from finbridge.credit.registry import check_customer

    actor.require_scope("credit:score")
    check_customer(actor, customer_id, consent)
    meta, model = registry.load(name, version)
    if not isinstance(model, JointBankModel):
        raise ValidationError(f"{name} v{meta.version} is not a joint model", field="name")
    if not join_key.strip():
        raise ValidationError("join_key (phone or ID number) is required", field="join_key")
    share, reachable, note = partner_share(partner, model.job_id, model.customer_hash(join_key))
    result = model.explain(pd.DataFrame([applicant]), share)
    mode = "joint" if share is not None else "bank_only"
    decision = registry.record(actor, meta, result, customer_id=customer_id, mode=mode)
    return JointDecision(decision, model.job_id, reachable, share is None, note)


def https_partner(url: str | None, cert_dir: str | Path | None) -> PartnerShare | None:
    """Ask the partner's party endpoint over mutual TLS with the bank's certificate."""
    if not url or not cert_dir:
        return None
    from finbridge.credit.transport import PeerLink

    link = PeerLink(url, Path(cert_dir), "bank", timeout=5.0)

    def share(job_id: str, key_hash: str) -> dict[str, Any]:
        return link.post(f"/score/{job_id}", json.dumps({"key": key_hash}).encode())

    return share


# -- the partner's half ---------------------------------------------------------------------


@dataclass
class PartnerHalf:
    """What the partner needs to answer online scoring for one job (its own data only)."""

    job_id: str
    hash_key: bytes
    join_kind: str
    binner: QuantileBinner
    records: list[tuple[int, int]]
    weights: np.ndarray | None

    @classmethod
    def of(cls, job_id: str, hash_key: bytes, join_kind: str, s: PartnerSession) -> PartnerHalf:
        if s.binner is None:
            raise ValidationError("the partner session has no model", field="job_id")
        return cls(job_id, hash_key, join_kind, s.binner, list(s.records), s.weights)

    def share(self, data: PartyData, lookup: dict[str, int], key_hash: str) -> dict[str, Any]:
        row = lookup.get(key_hash)
        if row is None:
            return {"found": False}
        bins = self.binner.transform(data.features.iloc[[row]])
        out: dict[str, Any] = {"found": True, "left": [bool(bins[0, f] <= t)
                                                       for f, t in self.records]}  # fmt: skip
        if self.weights is not None:
            out["u"] = float((self.binner.one_hot(bins) @ self.weights)[0])
        return out


def _half_path(data_dir: Path, job_id: str) -> Path:
    if not JOB_ID.match(job_id):
        raise ValidationError("malformed job id", field="job_id")
    return data_dir / "credit-joint" / f"{job_id}.json"


def save_partner_half(data_dir: Path, half: PartnerHalf) -> Path:
    """Write the partner's half atomically (JSON, never pickle: it is read back on restart)."""
    path = _half_path(data_dir, half.job_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "job_id": half.job_id,
        "hash_key": base64.b64encode(half.hash_key).decode(),
        "join_kind": half.join_kind,
        "max_bins": half.binner.max_bins,
        "columns": half.binner.columns_,
        "edges": [e.tolist() for e in half.binner.edges_],
        "records": [list(r) for r in half.records],
        "weights": None if half.weights is None else half.weights.tolist(),
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc), encoding="utf-8")
    os.replace(tmp, path)
    return path


def load_partner_half(data_dir: Path, job_id: str) -> PartnerHalf:
    path = _half_path(data_dir, job_id)
    if not path.exists():
        raise NotFound(f"no finished joint model for job {job_id}", field="job_id")
    doc = json.loads(path.read_text(encoding="utf-8"))
    binner = QuantileBinner(int(doc["max_bins"]), list(doc["columns"]),
                            [np.asarray(e, dtype=float) for e in doc["edges"]])  # fmt: skip
    weights = None if doc["weights"] is None else np.asarray(doc["weights"], dtype=float)
    records = [(int(f), int(t)) for f, t in doc["records"]]
    return PartnerHalf(job_id, base64.b64decode(doc["hash_key"]), str(doc["join_kind"]),
                       binner, records, weights)  # fmt: skip

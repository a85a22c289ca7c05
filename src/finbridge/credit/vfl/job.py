"""A joint credit job end to end: PSI, alignment, federated training, held-out evaluation.

The bank (label holder) drives; the partner answers. Either side may start the job (the party
endpoint forwards the request), both report progress. A job that fails (no overlap, partner gone,
tampered message, key too small) raises a clear error and registers nothing.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from finbridge.core.errors import ValidationError
from finbridge.credit.metrics import discrimination
from finbridge.credit.paillier import MIN_KEY_BITS, ParallelEncryptor, generate_keypair
from finbridge.credit.psi import require_overlap, run_psi
from finbridge.credit.transport import Channel, PartyUnreachable
from finbridge.credit.vfl import lr as vlr
from finbridge.credit.vfl import wire
from finbridge.credit.vfl.binning import QuantileBinner
from finbridge.credit.vfl.data import PartyData, is_holdout
from finbridge.credit.vfl.gbdt import BoostParams, sigmoid
from finbridge.credit.vfl.partner import PartnerSession, serve
from finbridge.credit.vfl.rpc import CMD, call
from finbridge.credit.vfl.secureboost import (
    FederatedBooster,
    RemoteRouter,
    train_central,
    train_secureboost,
)

Progress = Callable[[str, float], None]


@dataclass(frozen=True)
class JointConfig:
    models: tuple[str, ...] = ("secureboost",)  # and/or "lr"
    key_bits: int = 2048
    min_key_bits: int = MIN_KEY_BITS
    holdout: float = 0.2
    min_overlap: int = 50
    boost: BoostParams = field(default_factory=BoostParams)
    lr: vlr.LRParams = field(default_factory=vlr.LRParams)
    workers: int = 1
    psi_batch: int = 65_536
    join_kind: str = "phone"
    timeout: float = 120.0


@dataclass
class JointResult:
    """The bank's view of a finished job (the partner gets only its progress log)."""

    metrics: dict[str, Any]
    timings: dict[str, float]
    shared: int
    bank_customers: int
    partner_customers: int
    models: dict[str, Any]
    bytes_sent: int
    # the bank's own keys of the shared customers in each split, and the joint predictions
    keys: dict[str, list[str]] = field(default_factory=dict)
    predictions: dict[str, np.ndarray] = field(default_factory=dict)


def _auc_ks(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    d = discrimination(y, p)
    return {"auc": d.auc, "ks": d.ks, "n": d.n}


def run_bank(
    channel: Channel,
    bank: PartyData,
    config: JointConfig,
    *,
    hash_key: bytes,
    progress: Progress | None = None,
) -> JointResult:
    """The label holder's side of a joint job; on failure the partner is told to stop."""
    try:
        return _run_bank(channel, bank, config, hash_key=hash_key, progress=progress)
    except BaseException as exc:
        with contextlib.suppress(Exception):
            channel.send(CMD, wire.encode({"op": "abort", "reason": str(exc)[:200]}))
        raise


def _run_bank(
    channel: Channel,
    bank: PartyData,
    config: JointConfig,
    *,
    hash_key: bytes,
    progress: Progress | None,
) -> JointResult:
    report = progress or (lambda _s, _f: None)
    if bank.labels is None:
        raise ValidationError("the bank's data needs labels", field="target")
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    psi = run_psi(
        channel, "receiver", bank.ids, hash_key=hash_key, kind=config.join_kind,
        batch=config.psi_batch, progress=lambda s, f: report(f"psi: {s}", 0.2 * f),
    )  # fmt: skip
    shared = require_overlap(psi, config.min_overlap)
    timings["psi"] = time.perf_counter() - t0
    index = {k: i for i, k in enumerate(bank.ids)}
    y_all = bank.labels
    holdout = np.array([is_holdout(k, config.holdout) for k in bank.ids])
    train_rows = np.flatnonzero(~holdout)
    test_rows = np.flatnonzero(holdout)
    shared_idx = np.array([index[k] for k in shared])
    positions = np.asarray(psi.peer_positions, dtype=np.int64)
    in_test = holdout[shared_idx]
    joint_train, joint_test = shared_idx[~in_test], shared_idx[in_test]
    if len(joint_train) < config.min_overlap:
        raise ValidationError("too few shared customers in the training split", field="overlap")

    # Keys and alignment: positions in the partner's shuffled PSI list, never identifiers.
    t1 = time.perf_counter()
    pk, sk = generate_keypair(config.key_bits)
    call(channel, "hello", {"n": format(int(pk.n), "x"), "hs": format(int(pk.hs), "x")})
    call(channel, "align", {"dataset": "train"}, {"rows": positions[~in_test].astype("<u4")})
    call(channel, "align", {"dataset": "eval"}, {"rows": positions[in_test].astype("<u4")})
    encryptor = ParallelEncryptor(pk, config.workers)
    timings["setup"] = time.perf_counter() - t1

    binner = QuantileBinner().fit(bank.features.iloc[train_rows])
    bins = binner.transform(bank.features)
    nb = binner.n_bins
    y_test = y_all[test_rows]
    metrics: dict[str, Any] = {}
    models: dict[str, Any] = {"bank_binner": binner}
    predictions: dict[str, np.ndarray] = {}
    covered = np.isin(test_rows, joint_test)
    pos_in_joint_test = {r: i for i, r in enumerate(joint_test)}
    try:
        if "secureboost" in config.models:
            t2 = time.perf_counter()
            bank_only = train_central(bins[train_rows], nb, y_all[train_rows], config.boost)
            joint = train_secureboost(
                channel, sk, encryptor, bins[joint_train], nb, y_all[joint_train], config.boost,
                progress=lambda k, n: report("secureboost", 0.2 + 0.6 * k / n),
            )  # fmt: skip
            timings["secureboost_train"] = time.perf_counter() - t2
            p_bank = bank_only.predict_proba(bins[test_rows], nb)
            p_joint = joint.predict_proba(bins[joint_test], nb, RemoteRouter(channel, "eval"))
            metrics["secureboost"] = _evaluate(
                y_test, p_bank, p_joint, covered, test_rows, pos_in_joint_test, y_all, joint_test
            )
            models["secureboost"] = joint
            predictions["secureboost"] = p_joint
            models["secureboost_bank_only"] = bank_only
        if "lr" in config.models:
            t3 = time.perf_counter()
            X = binner.one_hot(bins)
            bank_lr = vlr.train_central(X[train_rows], y_all[train_rows], config.lr)
            joint_lr = vlr.train_federated(
                channel, sk, encryptor, X[joint_train], y_all[joint_train], config.lr,
                progress=lambda k, n: report("logistic regression", 0.8 + 0.15 * k / n),
            )  # fmt: skip
            timings["lr_train"] = time.perf_counter() - t3
            p_bank = sigmoid(bank_lr.raw(X[test_rows]))
            u_p = vlr.partner_scores(channel, "eval", np.arange(len(joint_test)))
            p_joint = sigmoid(joint_lr.raw(X[joint_test]) + u_p)
            metrics["lr"] = _evaluate(
                y_test, p_bank, p_joint, covered, test_rows, pos_in_joint_test, y_all, joint_test
            )
            models["lr"] = joint_lr
            predictions["lr"] = p_joint
            models["lr_bank_only"] = bank_lr
        call(channel, "done")
    finally:
        encryptor.close()
    timings["total"] = time.perf_counter() - t0
    report("done", 1.0)
    keys = {
        "joint_train": [bank.ids[i] for i in joint_train],
        "joint_test": [bank.ids[i] for i in joint_test],
    }
    return JointResult(
        metrics,
        timings,
        len(shared),
        len(bank.ids),
        psi.peer_size,
        models,
        channel.bytes_sent,
        keys,
        predictions,
    )


def _evaluate(
    y_test: np.ndarray,
    p_bank: np.ndarray,
    p_joint: np.ndarray,
    covered: np.ndarray,
    test_rows: np.ndarray,
    pos_in_joint_test: dict[int, int],
    y_all: np.ndarray,
    joint_test: np.ndarray,
) -> dict[str, Any]:
    """Bank-only on everyone; joint on shared customers; the partnership = joint where the
    partner knows the customer, bank-only elsewhere (coverage and lift come from here)."""
    combined = p_bank.copy()
    for i, r in enumerate(test_rows):
        j = pos_in_joint_test.get(int(r))
        if j is not None:
            combined[i] = p_joint[j]
    bank_all = _auc_ks(y_test, p_bank)
    partnership = _auc_ks(y_test, combined)
    return {
        "bank_only": bank_all,
        "bank_only_on_shared": _auc_ks(y_all[joint_test], p_bank[covered]),
        "joint_on_shared": _auc_ks(y_all[joint_test], p_joint),
        "partnership": partnership,
        "coverage": float(covered.mean()),
        "lift_auc": partnership["auc"] - bank_all["auc"],
        "lift_ks": partnership["ks"] - bank_all["ks"],
    }


def run_partner(
    channel: Channel,
    partner: PartyData,
    config: JointConfig,
    *,
    hash_key: bytes,
    progress: Progress | None = None,
    keep: dict[str, Any] | None = None,
    on_done: Callable[[PartnerSession], None] | None = None,
) -> dict[str, Any]:
    """The partner's side: blind for the PSI, then answer until the bank is done.

    ``keep`` (if given) receives the finished session, the partner's half of the models, so the
    partner can answer online joint-scoring requests afterwards; ``on_done`` persists it before
    the bank's 'done' is acknowledged.
    """
    report = progress or (lambda _s, _f: None)
    t0 = time.perf_counter()
    psi = run_psi(
        channel, "sender", partner.ids, hash_key=hash_key, kind=config.join_kind,
        batch=config.psi_batch, progress=lambda s, f: report(f"psi: {s}", 0.2 * f),
    )  # fmt: skip
    order = np.asarray(psi.order, dtype=np.int64)
    session = PartnerSession(
        _Reordered(partner, order).features, min_key_bits=config.min_key_bits,
        progress=lambda s, f: report(s, 0.5),
    )  # fmt: skip
    serve(channel, session, on_done)
    if keep is not None:
        keep["session"] = session
    report("done", 1.0)
    return {"seconds": time.perf_counter() - t0, "bytes_sent": channel.bytes_sent,
            "split_records": len(session.records)}  # fmt: skip


class _Reordered:
    """The partner's rows in its PSI shuffle order (alignment positions index this order)."""

    def __init__(self, partner: PartyData, order: np.ndarray) -> None:
        self.features = partner.features.iloc[order].reset_index(drop=True)


def new_job_secret() -> bytes:
    return secrets.token_bytes(32)


def score_joint(
    booster: FederatedBooster,
    bank_bins_row: np.ndarray,
    n_bins: list[int],
    bank_only: FederatedBooster,
    partner: RemoteRouter | None,
) -> dict[str, Any]:
    """Online joint score for one applicant; falls back to the bank-only model and says why."""
    if partner is not None:
        try:
            p = float(booster.predict_proba(bank_bins_row[None, :], n_bins, partner)[0])
            return {"probability_bad": p, "mode": "joint", "note": None}
        except PartyUnreachable as exc:
            note = f"partner unreachable ({exc.detail}); bank-only model used"
    else:
        note = "customer unknown to the partner; bank-only model used"
    p = float(bank_only.predict_proba(bank_bins_row[None, :], n_bins)[0])
    return {"probability_bad": p, "mode": "bank_only", "note": note}
